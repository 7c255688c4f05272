# syntax=docker/dockerfile:1
# SeeSay in a container. One file, two variants, chosen by a build argument:
#
#   docker build -t seesay:cpu .                              CPU only (the default)
#   docker build -t seesay:cuda --build-arg VARIANT=cuda .    NVIDIA GPU: docker run --gpus all ...
#   docker run -p 8501:8501 -v seesay-models:/models seesay:cpu
#
# torch is pinned in requirements.txt (torch==2.13.0). What each variant installs, and how:
#   cpu   torch 2.13.0+cpu from the PyTorch CPU index (https://download.pytorch.org/whl/cpu), a few
#         hundred MB, installed first: requirements.txt then finds its pin met (2.13.0+cpu is 2.13.0)
#         and keeps it.
#   cuda  torch 2.13.0 from PyPI, which on Linux x86_64 is the CUDA build: the CUDA libraries come as
#         nvidia-* wheels (several GB), so the base image needs no CUDA. The host needs the NVIDIA
#         driver and the NVIDIA Container Toolkit. bitsandbytes' wheel carries its own CUDA kernels.
#
# Models are fetched while the image is built (python -m core download, which ./seesay download
# runs too), for the variant's device profile, into /models: cpu, LLaVA-Interleave-Qwen-0.5B and
# Whisper base (about 2 GB); cuda, LLaVA-1.5-7B and Whisper small (about 15 GB). Skip that with
# --build-arg DOWNLOAD_MODELS=0 (SeeSay then fetches them on first start, with progress on its Home
# page, or run: docker run ... seesay:cpu python -m core download). With
# --build-arg VLM_ENGINE=openai (compose.yaml) the answering model lives on a server and only
# Whisper is fetched. Mount a volume on /models to keep the models across containers and images.
#
# No secret is baked in: settings (SEESAY_*), HF_TOKEN for a gated model and SEESAY_VLM_API_KEY are
# given when the container runs, never at build time.

ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim-bookworm

ARG VARIANT=cpu
ARG DOWNLOAD_MODELS=1
ARG VLM_ENGINE=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HF_HOME=/models/huggingface \
    XDG_CACHE_HOME=/models/cache

RUN case "$VARIANT" in cpu|cuda) ;; *) echo "VARIANT must be cpu or cuda, not '$VARIANT'" >&2; exit 1 ;; esac

# Debian packages: the list ./seesay installs (ffmpeg, espeak-ng, libsndfile).
COPY packages.txt /tmp/seesay/
RUN apt-get update \
 && grep -v '^[[:space:]]*#' /tmp/seesay/packages.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*

# Python packages: requirements.txt alone (it names the rebuilt gTTS wheel by a path relative to
# the folder pip runs in, so that folder mirrors the repository's layout).
COPY requirements.txt /tmp/seesay/
COPY deploy/wheels/ /tmp/seesay/deploy/wheels/
RUN python -m venv /opt/venv \
 && pip install --upgrade pip \
 && if [ "$VARIANT" = cpu ]; then \
      pip install "$(grep -E '^torch==' /tmp/seesay/requirements.txt)" \
        --index-url https://download.pytorch.org/whl/cpu; \
    fi \
 && cd /tmp/seesay/ && pip install -r requirements.txt

# Not root: the app runs as seesay, which owns only /models (the model cache) and its home.
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin seesay \
 && mkdir -p /models \
 && chown seesay:seesay /models

WORKDIR /app
COPY Home.py ./
COPY .streamlit/ .streamlit/
COPY core/ core/
COPY ui/ ui/
COPY pages/ pages/

USER seesay

# The models, before anyone asks (the variant's device profile; see the top of this file).
RUN if [ "$DOWNLOAD_MODELS" = 1 ]; then \
      env SEESAY_DEVICE="$VARIANT" ${VLM_ENGINE:+SEESAY_VLM_ENGINE="$VLM_ENGINE"} python -m core download; \
    fi

EXPOSE 8501
# Streamlit answers "ok" here as soon as it serves pages; the models load on the first visit.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "Home.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
