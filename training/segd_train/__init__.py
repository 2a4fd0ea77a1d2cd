"""segd_train: trains the segd segmentation models and exports the ONNX the daemon serves.

Layout mirrors the daemon: data → models → losses → engine (train/eval) → export.
"""
