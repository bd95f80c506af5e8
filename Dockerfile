# pudong-qa for an office: the chat page and the HTTP API on port 7860, sign-in required (it
# listens on 0.0.0.0). The model is converted while the image is built, so the container starts
# offline. Corpus, index and data (users, keys, audit log, feedback) are volumes.
#
#   docker build -t pudong-qa .
#   docker run --rm -it -v pqa-data:/srv/pudong-qa/data pudong-qa users add admin --role editor
#   docker run -d -p 7860:7860 -v "$PWD/corpus:/srv/pudong-qa/corpus" -v pqa-index:/srv/pudong-qa/index \
#       -v pqa-data:/srv/pudong-qa/data pudong-qa
#
# or compose.office.yml. No container engine runs on the project's machines, so this file has not
# been built there; scripts/check_install.sh (run by CI) does the same steps in a clean virtualenv:
# wheel, CPU torch first, the wheel without test extras, this file's model step, then serve and answer.

FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PUDONG_QA_ROOT=/srv/pudong-qa PUDONG_QA_CACHE=/opt/pudong-qa/cache \
    PUDONG_QA_HOST=0.0.0.0 PUDONG_QA_PORT=7860 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# OpenCV (under the OCR package, rapidocr-onnxruntime) loads libGL and GLib, which the slim image lacks
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
# CPU torch first, pinned as in the Makefile: PyPI's default Linux torch is the multi-GB CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install /tmp/dist/pudong_qa-*.whl && rm -rf /tmp/dist
RUN useradd --create-home --uid 10001 pqa \
    && mkdir -p /srv/pudong-qa/corpus /srv/pudong-qa/index /srv/pudong-qa/data /opt/pudong-qa/cache \
    && chown -R pqa:pqa /srv/pudong-qa /opt/pudong-qa
USER pqa
WORKDIR /srv/pudong-qa
RUN python -c "from pudong_qa.settings import Settings; from pudong_qa.embedding import load_model; s = Settings.from_env(); load_model(s.model, s.cache_dir, s.backend).warm_up()"  # model
# the sample report, so the image answers out of the box; mount your own folder over it
COPY --chown=pqa:pqa corpus/ /srv/pudong-qa/corpus/
VOLUME ["/srv/pudong-qa/corpus", "/srv/pudong-qa/index", "/srv/pudong-qa/data"]
EXPOSE 7860
# /healthz needs no sign-in; the first start builds the index (about a minute per few hundred pages)
HEALTHCHECK --interval=30s --timeout=5s --start-period=300s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PUDONG_QA_PORT', '7860'), timeout=4)"
ENTRYPOINT ["pudong-qa"]
CMD ["serve"]
