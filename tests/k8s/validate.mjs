// Validates rendered Kubernetes manifests (ops/k8s-validate.sh renders them with kustomize):
//   1. every object against its schema, offline: kubernetes-models (the upstream OpenAPI schemas,
//      compiled to ajv validators) and @kubernetes-models/keda (KEDA's CRDs);
//   2. AgentBus's own rules, which a schema cannot say: probes, resources and the restricted
//      securityContext on every workload, a PDB per Deployment, each executor holding only its own
//      tool's Secret, a ScaledObject per executor, a default-deny NetworkPolicy.
// Usage: node validate.mjs NAME=FILE... (NAME labels the render in messages). Exit 1 on any problem.
// The schemas are not strict about unknown fields (the upstream OpenAPI does not forbid them), so a
// misspelt optional field passes step 1; the rules in step 2 catch the ones that matter here.
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

const problems = [];
const report = (render, object, message) =>
  problems.push(`${render}: ${object?.kind ?? "?"}/${object?.metadata?.name ?? "?"}: ${message}`);

// apiVersion → the module holding its models; a kind we do not know is a problem, not a pass.
function modelModule(apiVersion) {
  if (apiVersion === "keda.sh/v1alpha1") return "@kubernetes-models/keda/keda.sh/v1alpha1";
  return `kubernetes-models/${apiVersion}`;
}

async function validateSchema(render, object) {
  const { apiVersion, kind } = object ?? {};
  if (!apiVersion || !kind) return report(render, object, "no apiVersion or kind");
  let models;
  try {
    models = await import(modelModule(apiVersion));
  } catch {
    return report(render, object, `no schema for apiVersion ${apiVersion}`);
  }
  const Model = models[kind];
  if (typeof Model !== "function") return report(render, object, `no schema for ${apiVersion} ${kind}`);
  try {
    new Model(object).validate();
  } catch (error) {
    const details = (error.errors ?? [{ instancePath: "", message: error.message }])
      .map((e) => `${e.instancePath || "/"} ${e.message}${e.params?.allowedValues ? ` (${e.params.allowedValues.join(", ")})` : ""}`);
    report(render, object, `schema ${apiVersion} ${kind}: ${[...new Set(details)].join("; ")}`);
  }
}

const podSpecOf = (object) =>
  object.kind === "Deployment" || object.kind === "Job" ? object.spec?.template?.spec : undefined;

function checkWorkload(render, object) {
  const pod = podSpecOf(object);
  const say = (message) => report(render, object, message);
  if (!pod) return say("no pod template");
  if (pod.securityContext?.runAsNonRoot !== true) say("pod securityContext.runAsNonRoot is not true");
  if (pod.securityContext?.seccompProfile?.type !== "RuntimeDefault") say("pod seccompProfile is not RuntimeDefault");
  for (const container of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    const where = `container ${container.name}`;
    const security = container.securityContext ?? {};
    if (security.readOnlyRootFilesystem !== true) say(`${where}: readOnlyRootFilesystem is not true`);
    if (security.allowPrivilegeEscalation !== false) say(`${where}: allowPrivilegeEscalation is not false`);
    if (!(security.capabilities?.drop ?? []).includes("ALL")) say(`${where}: capabilities do not drop ALL`);
    for (const kind of ["requests", "limits"])
      for (const resource of ["cpu", "memory"])
        if (container.resources?.[kind]?.[resource] === undefined) say(`${where}: no resources.${kind}.${resource}`);
    if (object.kind !== "Deployment") continue;
    // every AgentBus host serves these two on its HTTP port (AgentBus.ServiceDefaults)
    if (container.livenessProbe?.httpGet?.path !== "/health/live") say(`${where}: no livenessProbe on /health/live`);
    if (container.readinessProbe?.httpGet?.path !== "/health/ready") say(`${where}: no readinessProbe on /health/ready`);
  }
}

const selects = (selector, labels) =>
  selector?.matchLabels && Object.entries(selector.matchLabels).every(([k, v]) => labels?.[k] === v);

// The tool an executor Deployment runs, from its command line (`agentbus-executor.dll --tool T`).
function executorTool(deployment) {
  for (const container of deployment.spec?.template?.spec?.containers ?? []) {
    const words = [...(container.command ?? []), ...(container.args ?? [])];
    if (!words.some((w) => String(w).startsWith("agentbus-executor"))) continue;
    const at = words.indexOf("--tool");
    return at >= 0 ? String(words[at + 1]) : "";
  }
  return undefined;
}

// Every Secret a pod can read: volumes (plain and projected), envFrom and env references.
function secretsReadBy(pod) {
  const found = [];
  for (const volume of pod.volumes ?? []) {
    if (volume.secret) found.push({ name: volume.secret.secretName, items: volume.secret.items, how: `volume ${volume.name}` });
    for (const source of volume.projected?.sources ?? [])
      if (source.secret) found.push({ name: source.secret.name, items: source.secret.items, how: `projected volume ${volume.name}` });
  }
  for (const container of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    for (const from of container.envFrom ?? [])
      if (from.secretRef) found.push({ name: from.secretRef.name, how: `envFrom in ${container.name}` });
    for (const env of container.env ?? [])
      if (env.valueFrom?.secretKeyRef) found.push({ name: env.valueFrom.secretKeyRef.name, how: `env ${env.name}` });
  }
  return found;
}

function checkExecutor(render, deployment, tool, objects) {
  const say = (message) => report(render, deployment, message);
  if (!tool) return say("runs agentbus-executor without --tool");
  if (deployment.spec?.template?.metadata?.labels?.["agentbus.io/tool"] !== tool)
    say(`pod label agentbus.io/tool is not ${tool}`);
  const own = `agentbus-executor-${tool}`;
  const pod = deployment.spec.template.spec;
  const secrets = secretsReadBy(pod);
  for (const secret of secrets)
    if (secret.name !== own) say(`reads Secret ${secret.name} (${secret.how}); an executor reads only ${own}`);
  const volumes = secrets.filter((s) => s.how.startsWith("volume"));
  if (volumes.length !== 1) say(`mounts ${volumes.length} Secret volumes; expected exactly ${own}`);
  for (const secret of volumes) {
    // listing the keys keeps a key added to the Secret later from appearing in the pod
    if (!secret.items?.length) { say(`mounts all of Secret ${secret.name}; list its items`); continue; }
    const toolFiles = secret.items.filter((i) => i.path.startsWith("tools/")).map((i) => i.path);
    if (toolFiles.length !== 1 || toolFiles[0] !== `tools/${tool}`)
      say(`tool secrets mounted: ${toolFiles.join(", ") || "none"}; expected tools/${tool} only`);
  }
  for (const container of pod.containers ?? [])
    for (const env of container.env ?? [])
      if (/^AGENTBUS_TOOL_SECRET_/.test(env.name) && env.name !== `AGENTBUS_TOOL_SECRET_${tool.toUpperCase()}`)
        say(`env ${env.name} is another tool's secret`);
  if (deployment.spec?.replicas !== undefined) say("sets spec.replicas; its ScaledObject owns them");

  const scaled = objects.filter((o) => o.kind === "ScaledObject" && o.spec?.scaleTargetRef?.name === deployment.metadata.name);
  if (scaled.length !== 1) return say(`${scaled.length} ScaledObjects target it; expected one`);
  const trigger = (scaled[0].spec.triggers ?? []).find((t) => t.type === "rabbitmq");
  const sayScaled = (message) => report(render, scaled[0], message);
  if (!trigger) return sayScaled("no rabbitmq trigger");
  if (trigger.metadata?.mode !== "QueueLength") sayScaled("rabbitmq trigger mode is not QueueLength");
  // WireNames.ToolQueue(tool)
  if (trigger.metadata?.queueName !== `agentbus.tool.${tool}`) sayScaled(`queueName is ${trigger.metadata?.queueName}; expected agentbus.tool.${tool}`);
  const auth = trigger.authenticationRef?.name;
  if (!objects.some((o) => o.kind === "TriggerAuthentication" && o.metadata?.name === auth))
    sayScaled(`authenticationRef ${auth} names no TriggerAuthentication in this render`);
}

function checkRender(render, objects) {
  const deployments = objects.filter((o) => o.kind === "Deployment");
  const tools = deployments.map(executorTool).filter((t) => t);
  for (const object of objects) if (object.kind === "Deployment" || object.kind === "Job") checkWorkload(render, object);
  for (const deployment of deployments) {
    const labels = deployment.spec?.template?.metadata?.labels;
    if (!objects.some((o) => o.kind === "PodDisruptionBudget" && selects(o.spec?.selector, labels)))
      report(render, deployment, "no PodDisruptionBudget selects its pods");
    const tool = executorTool(deployment);
    if (tool !== undefined) checkExecutor(render, deployment, tool, objects);
    else
      // an executor's Secret holds a tool credential: no other service may read it
      for (const secret of secretsReadBy(deployment.spec?.template?.spec ?? {}))
        if (/^agentbus-executor-/.test(secret.name)) report(render, deployment, `reads executor Secret ${secret.name}`);
  }
  if (!tools.length) problems.push(`${render}: no executor Deployment (agentbus-executor.dll --tool T)`);
  const defaultDeny = objects.some((o) => o.kind === "NetworkPolicy" && Object.keys(o.spec?.podSelector ?? {}).length === 0
    && ["Ingress", "Egress"].every((t) => o.spec?.policyTypes?.includes(t)) && !o.spec.ingress?.length && !o.spec.egress?.length);
  if (!defaultDeny) problems.push(`${render}: no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)`);
}

for (const argument of process.argv.slice(2)) {
  const [render, file] = argument.includes("=") ? argument.split(/=(.*)/s) : [argument, argument];
  let objects;
  try {
    objects = yaml.loadAll(readFileSync(file, "utf8")).filter((o) => o !== null && o !== undefined);
  } catch (error) {
    problems.push(`${render}: cannot read ${file}: ${error.message}`);
    continue;
  }
  if (!objects.length) { problems.push(`${render}: ${file} holds no objects`); continue; }
  const before = problems.length;
  for (const object of objects) await validateSchema(render, object);
  checkRender(render, objects);
  const counts = {};
  for (const o of objects) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
  const summary = Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ");
  console.log(`[k8s] ${render}: ${objects.length} objects, ${problems.length === before ? "valid" : `${problems.length - before} problems`} (${summary})`);
}
for (const problem of problems) console.error(`[k8s] ${problem}`);
process.exit(problems.length ? 1 : 0);
