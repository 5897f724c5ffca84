// bench_micro entry point. The benchmarks register themselves from their own files; this one
// only adds the machine-readable context (build type) to Google Benchmark's header, so results
// from a debug build are never mistaken for real figures.
#include <benchmark/benchmark.h>

#ifndef NDEBUG
inline constexpr const char* kBuildKind = "debug (assertions on: figures are not representative)";
#else
inline constexpr const char* kBuildKind = "optimized";
#endif

int main(int argc, char** argv) {
  benchmark::AddCustomContext("endpoint_binder_build", kBuildKind);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
