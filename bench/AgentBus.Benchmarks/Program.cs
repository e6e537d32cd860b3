using AgentBus.Benchmarks;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/AgentBus.Benchmarks                  every benchmark, default job
// dotnet run -c Release --project bench/AgentBus.Benchmarks -- --job short   a quicker, rougher run
// Any BenchmarkDotNet switch works after "--"; without --filter every benchmark runs (never a prompt,
// so it also runs unattended in CI). The summary table prints Median and Allocated per decision.
string[] switches = args.Contains("--filter") ? args : [.. args, "--filter", "*"];
BenchmarkSwitcher.FromAssembly(typeof(PolicyEvaluatorBenchmarks).Assembly).Run(switches);
