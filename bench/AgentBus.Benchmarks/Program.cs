using AgentBus.Benchmarks;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/AgentBus.Benchmarks            (every benchmark)
// dotnet run -c Release --project bench/AgentBus.Benchmarks -- --job short   (a quicker, rougher run)
// Any BenchmarkDotNet switch works after "--" (--filter, --job, --exporters …).
BenchmarkSwitcher.FromAssembly(typeof(PolicyEvaluatorBenchmarks).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args);
