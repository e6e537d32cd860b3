using AgentBus.AuditHarness;

// Writes a realistic mix of audit events through the projections' writer into a scratch database,
// prints events/s with the conditions that matter (fsync, synchronous_commit, cores), checks the
// chain and idempotency, and drops the database. See docs/audit.md.
return await Harness.RunAsync(args);
