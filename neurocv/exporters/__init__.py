"""Exporters: the ANN partition to ONNX, the spiking partition (STMs) to NIR."""
