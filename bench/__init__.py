"""Benchmarks of the study (run.py), the GPU check (gpu_*.sh, gpu_reference.py, sparse24_cuda.py) and their parts."""
