"""SeeSay benchmarks (not tests): ``python -m bench``.

* ``python -m bench`` (or ``python -m bench pipeline``): the sequential baseline against SeeSay's
  streaming pipeline, side by side in one process on the same inputs, with the CPU default model's
  size and shape (random weights). ``--quick`` runs the same on the tiny test models.
* ``python -m bench stt``: what a 3 s and an 8 s question cost each Whisper engine and size.
* ``python -m bench load`` (or ``python -m bench.load``): 16 people asking at once through the pipeline,
  against a real model server (``transformers serve`` on loopback, or ``--url`` for any OpenAI-compatible
  one) and the in-process engine, side by side; checks that everyone got their own answers.
* ``python bench/gpu.py``: LLaVA-1.5-7B in fp16 and 4-bit NF4 on a CUDA machine (self-contained).
* ``python bench/gpu_e2e.py`` (or ``python -m bench gpu``): SeeSay's whole GPU path (NF4 LLaVA-1.5-7B shape
  with compiled decoding, Whisper small shape, Piper) against the GPU targets; ``--miniature`` on CPU.

Every time is counted from the end of the spoken question (t = 0). Results go to ``docs/bench/``.
Random weights give real timings and meaningless words; the benchmark never judges the words.
"""
