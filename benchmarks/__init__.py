"""Plain-script micro benchmarks: `python -m benchmarks` runs every `bench_*` module's `main()`;
`python -m benchmarks.bench_<name>` runs one."""
