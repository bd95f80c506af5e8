// The chat page's browser side: the page's language and accessible names, copy buttons, keeping
// the question in view after an answer, and the source panel beside the chat.
(() => {
  // ---- Chinese words for what Gradio words in the browser's language or always in English: its
  // upload box, sliders, feedback buttons and the like; and the page's language.
  const LABELS = {"Like": "有帮助", "Dislike": "没有帮助", "赞": "有帮助", "踩": "没有帮助",
                  "Liked": "已评价:有帮助", "Disliked": "已评价:没有帮助",
                  "Scroll down": "滚动到底部", "Clear": "清除",
                  "Copy table data": "复制表格", "Fullscreen": "全屏", "Open cell menu": "单元格菜单",
                 "common.upload": "添加文件"};
  const NAMES = [[/^number input for (.*)$/, "$1 (数字)"], [/^range slider for (.*)$/, "$1 (滑块)"],
                 [/^Reset to default value$/, "恢复默认值"], [/^Click to upload or drop files$/, "点击上传或拖入文件"],
                 [/^File upload$/, "上传文件"], [/^Empty value$/, "未选择"], [/^More tabs$/, "更多标签页"]];
  const TEXTS = {"Drop File Here": "拖放文件到此处", "- or -": "或", "Click to Upload": "点击上传",
                 "Drop Files Here": "拖放文件到此处", "common.complete": "完成"};
  const patch = () => {
    if (document.documentElement.lang !== "zh-CN") document.documentElement.lang = "zh-CN";
    // the examples are buttons, not list items: a group, named by their own text
    document.querySelectorAll("#chatbot .examples[role=list]").forEach((g) => {
      g.setAttribute("role", "group"); g.setAttribute("aria-label", "示例问题");
    });
    document.querySelectorAll("#chatbot .examples button[aria-label]").forEach((b) => b.removeAttribute("aria-label"));
    document.querySelectorAll("#chatbot [role=log][aria-label]").forEach((e) => e.setAttribute("aria-label", "对话"));
    document.querySelectorAll("#chatbot [data-testid=user][aria-label]").forEach((e) => e.setAttribute("aria-label", "问题"));
    document.querySelectorAll("#chatbot [data-testid=bot][aria-label]").forEach((e) => e.setAttribute("aria-label", "回答"));
    for (const [en, zh] of Object.entries(LABELS)) {
      document.querySelectorAll(`button[aria-label="${en}"], button[title="${en}"]`).forEach((b) => {
        b.setAttribute("aria-label", zh); b.setAttribute("title", zh);
      });
    }
    document.querySelectorAll("[aria-label]").forEach((e) => {
      const name = e.getAttribute("aria-label");
      for (const [en, zh] of NAMES) if (en.test(name)) { e.setAttribute("aria-label", name.replace(en, zh)); break; }
    });
    // an upload box is named by the words it shows (axe: label-content-name-mismatch), not Gradio's own label
    document.querySelectorAll("button.upload-container[aria-label]").forEach((b) => {
      const shown = b.innerText.replace(/\s+/g, " ").trim();
      if (shown && b.getAttribute("aria-label") !== shown) b.setAttribute("aria-label", shown);
    });
    // times the server writes (the build time) in the browser's own time zone
    document.querySelectorAll("time.pqa-time[datetime]:not([data-local])").forEach((t) => {
      const d = new Date(t.getAttribute("datetime")), p = (n) => String(n).padStart(2, "0");
      if (isNaN(d)) return;
      t.textContent = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} `
        + `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
      t.dataset.local = "1";
    });
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walk.nextNode()) {
      const node = walk.currentNode, zh = TEXTS[node.nodeValue.trim()];
      if (zh) node.nodeValue = zh;
    }
  };
  // ---- A confirmation (clear, delete, rebuild) is brought into view when it appears, its 取消
  // focused (the safe choice); Esc answers 取消; when it goes, focus returns to the button that asked.
  const openConfirm = () => [...document.querySelectorAll(".pqa-confirm")].find((c) => c.offsetParent !== null);
  const openers = new Map();
  const showConfirm = () => {
    document.querySelectorAll(".pqa-confirm").forEach((c) => {
      if (c.offsetParent === null) { delete c.dataset.shown; delete c.dataset.focused; return; }
      if (!c.dataset.shown) { c.dataset.shown = String(Date.now()); openers.set(c, document.activeElement); }
      if (Date.now() - Number(c.dataset.shown) > 1000) return;
      // its text and buttons arrive over several frames: keep it in view while they do
      c.scrollIntoView({block: "nearest"});
      setTimeout(() => { if (c.offsetParent !== null) c.scrollIntoView({block: "nearest"}); }, 150);
      const cancel = !c.dataset.focused && c.querySelector(".pqa-cancel");
      if (cancel) { cancel.focus({preventScroll: true}); c.dataset.focused = "1"; }
    });
    for (const [c, opener] of openers) {  // Gradio takes a hidden confirmation out of the page
      if (c.isConnected && c.offsetParent !== null) continue;
      openers.delete(c);
      const at = document.activeElement;
      if (opener && opener.isConnected && (!at || at === document.body || !at.isConnected)) opener.focus({preventScroll: true});
    }
  };
  let queued = false;
  const schedule = () => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; patch(); showConfirm(); }); }
  };
  new MutationObserver(schedule).observe(document.documentElement, {subtree: true, childList: true, characterData: true,
                                                                    attributes: true,
                                                                    attributeFilter: ["lang", "aria-label", "role"]});
  patch();

  // ---- Copying: a card's plain text (passage and citation with offsets), or the whole conversation.
  window.pqaCopy = async (text, button) => {
    window.pqaLastCopy = text;
    if (button && !button.dataset.label) button.dataset.label = button.textContent;
    try { await navigator.clipboard.writeText(text); if (button) button.textContent = "已复制"; }
    catch (err) { if (button) button.textContent = "复制失败"; }
    if (button) setTimeout(() => { button.textContent = button.dataset.label; }, 1500);
  };
  window.pqaCopyAll = (history) => {
    const text = (c) => typeof c === "string" ? c : Array.isArray(c) ? c.map(text).join(" ")
      : c && typeof c === "object" ? (c.text ?? c.value ?? "") : "";
    const plain = (m) => {
      const doc = new DOMParser().parseFromString(text(m.content), "text/html");
      const reply = doc.querySelector(".pqa-reply");
      return reply ? reply.getAttribute("data-copy") : doc.body.textContent.trim();
    };
    const out = (history || []).map(m => (m.role === "user" ? "问: " : "答:\n") + plain(m)).join("\n\n");
    window.pqaCopy(out, document.querySelector("#copy-all"));
    return [];
  };

  // ---- After an answer (or a reload): show the last question at the top of the conversation,
  // its answer right below it.
  window.pqaFocusQuestion = () => {
    const box = document.querySelector("#question textarea");
    if (box && !document.body.classList.contains("pqa-source-open")) box.focus({preventScroll: true});
  };
  window.pqaCount = () => { window.pqaSeen = document.querySelectorAll("#chatbot .pqa-reply").length; };
  const scroller = (el) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const s = getComputedStyle(e).overflowY;
      if ((s === "auto" || s === "scroll") && e.scrollHeight > e.clientHeight) return e;
    }
    return null;
  };
  window.pqaShowLast = (tries = 80) => {
    const replies = document.querySelectorAll("#chatbot .pqa-reply");
    if (replies.length <= (window.pqaSeen || 0) && tries > 0) {
      setTimeout(() => window.pqaShowLast(tries - 1), 50); return;
    }
    window.pqaSeen = replies.length;
    const rows = document.querySelectorAll("#chatbot .message-row.user-row, #chatbot [data-testid=user]");
    const question = rows[rows.length - 1] || replies[replies.length - 1];
    if (!question) return;
    const box = scroller(question);
    if (box) box.scrollTop += question.getBoundingClientRect().top - box.getBoundingClientRect().top - 4;
    const chat = document.querySelector("#chatbot").getBoundingClientRect();
    if (chat.top < 0 || chat.bottom > window.innerHeight) document.querySelector("#chatbot").scrollIntoView({block: "nearest"});
  };

  // ---- The source panel: a citation opens its document beside the chat (over the page on a
  // phone), scrolled to the marked answer sentence; “显示全文” loads the whole document.
  const body = () => document.getElementById("pqa-source-body");
  const showTarget = () => {
    const b = body(), box = b && b.querySelector(".pqa-src-text"), t = b && b.querySelector("#pqa-target");
    if (!t || !box) return;
    box.scrollTop += t.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 4;
  };
  const load = async (href) => {
    const b = body();
    b.innerHTML = "<p>正在打开原文…</p>";
    try {
      const r = await fetch(href, {credentials: "same-origin"});
      b.innerHTML = r.ok ? await r.text() : "<p>无法打开原文:文档已不在索引中。</p>";
    } catch (err) { b.innerHTML = "<p>无法打开原文,请稍后再试。</p>"; }
    fitSource();
    showTarget();
    window.pqaSourceShown = (window.pqaSourceShown || 0) + 1;
  };
  // the panel ends at the window's bottom edge wherever the page is scrolled (it sticks to the top)
  const fitSource = () => {
    const col = document.getElementById("source-col"), panel = document.getElementById("pqa-source");
    if (!col || !panel || !document.body.classList.contains("pqa-source-open")) return;
    const at = col.getBoundingClientRect(), frame = at.height - panel.getBoundingClientRect().height;
    panel.style.maxHeight = `${Math.max(320, window.innerHeight - Math.max(at.top, 8) - frame - 12)}px`;
  };
  let fitting = false;
  const scheduleFit = () => { if (!fitting) { fitting = true; requestAnimationFrame(() => { fitting = false; fitSource(); }); } };
  window.addEventListener("scroll", scheduleFit, {passive: true});
  window.addEventListener("resize", scheduleFit, {passive: true});
  window.pqaOpenSource = async (link) => {
    const url = new URL(link.getAttribute("href"), location.href);
    url.hash = ""; url.searchParams.set("view", "panel");
    window.pqaSourceOpener = link;
    document.body.classList.add("pqa-source-open");
    await load(url.toString());
    const col = document.getElementById("source-col"), at = col && col.getBoundingClientRect();
    if (at && window.innerWidth > 640 && (at.top < 0 || at.top > window.innerHeight - 120)) {
      col.scrollIntoView({block: "start"});  // only when the panel is out of sight
    }
    fitSource();
    const text = body().querySelector(".pqa-src-text");
    (text || body()).focus({preventScroll: true});
  };
  const closeSource = () => {
    if (!document.body.classList.contains("pqa-source-open")) return;
    document.body.classList.remove("pqa-source-open");
    if (window.pqaSourceOpener) window.pqaSourceOpener.focus({preventScroll: true});
  };
  document.addEventListener("click", (e) => {
    const t = e.target.closest ? e.target : e.target.parentElement;
    const copy = t.closest(".pqa-copy");
    if (copy) {
      e.preventDefault(); e.stopPropagation();
      const card = copy.closest(".pqa-card"), src = card && card.querySelector(".pqa-copytext");
      window.pqaCopy(src ? src.textContent : "", copy);
      return;
    }
    const cite = t.closest("a.pqa-cite");
    if (cite && !(e.ctrlKey || e.metaKey || e.shiftKey || e.button === 1)) {  // a new tab stays a new tab
      e.preventDefault(); e.stopPropagation();
      window.pqaOpenSource(cite);
      return;
    }
    const full = t.closest(".pqa-src-full");
    if (full) { e.preventDefault(); load(full.dataset.href); return; }
    if (t.closest("#pqa-source-close")) { e.preventDefault(); closeSource(); }
  }, true);
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const open = openConfirm(), cancel = open && open.querySelector(".pqa-cancel");
    if (cancel) cancel.click(); else closeSource();
  });
})();
