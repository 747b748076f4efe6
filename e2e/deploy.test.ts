// The Kubernetes example under deploy/kubernetes is run, not only read: the decision point's
// arguments as the StatefulSet gives them start a real `stele serve` (the store and state paths,
// and the port, moved into a temp folder), and the pieces of the example that must fit together
// do: probes through the TLS proxy (stele listens on 127.0.0.1), state on the pod's own volume.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../src/testing/index.js";
import { makeRepo } from "./fixture.js";
import { freshState, type Pdp, startPdp, until } from "./pdp.js";

const folder = join(repoRoot, "deploy", "kubernetes");
// biome-ignore lint/suspicious/noExplicitAny: the test reads Kubernetes objects by their paths
const objects = (file: string): any[] =>
  parseAllDocuments(readFileSync(join(folder, file), "utf8")).map((d) => d.toJSON());
const [set] = objects("statefulset.yaml");
const pod = set.spec.template.spec;
// biome-ignore lint/suspicious/noExplicitAny: as above
const container = (name: string) => pod.containers.find((c: any) => c.name === name);
const args: string[] = container("stele").args;
const value = (flag: string) => args[args.indexOf(flag) + 1] as string;

const pdps: Pdp[] = [];
after(() => Promise.all(pdps.map((p) => p.stop())));

test("the StatefulSet's decision point starts from its own arguments and serves what was released", async () => {
  const repo = makeRepo({ prod: { quorum: 1 } });
  repo.build("v1.json");
  for (const env of ["staging", "prod"]) {
    repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", env);
    repo.ok("release", "v1.json", "--env", env);
  }
  assert.equal(value("--env"), "prod");
  const state = freshState();
  // the checkpoint the README has `stele verify --witness` keep, for the ConfigMap
  const witness = join(repo.dir, "checkpoint.note");
  repo.ok("verify", "--witness", witness);
  const moved = args.map((a, i) => {
    const flag = args[i - 1];
    if (flag === "--store") return `file:${join(repo.dir, ".stele")}`;
    if (flag === "--state") return state;
    if (flag === "--port") return "0";
    if (flag === "--witness") return witness;
    return a;
  });
  const pdp = await startPdp(repo.dir, { argv: moved, state });
  pdps.push(pdp);
  const status = await until("the decision point to serve v1", async () => {
    const s = await pdp.status();
    return s.version === 1 && s;
  });
  assert.equal(status.env, "prod");
  assert.equal((await pdp.get("/readyz")).status, 200);
  // it listens where the proxy sends requests: 127.0.0.1, on the port the proxy names
  assert.match(pdp.url, /^http:\/\/127\.0\.0\.1:/);
  const proxy = container("tls-proxy");
  assert.equal(proxy.args[proxy.args.indexOf("--upstream") + 1], `127.0.0.1:${value("--port")}`);
});

test("the example's probes reach the decision point through the TLS proxy, and its state outlives the pod", () => {
  // stele listens on 127.0.0.1 only: a probe to the pod's own address must go through the proxy
  const proxyPorts = container("tls-proxy").ports.map(
    (p: { containerPort: number }) => p.containerPort,
  );
  for (const probe of ["readinessProbe", "livenessProbe"]) {
    const get = container("stele")[probe].httpGet;
    assert.equal(get.scheme, "HTTPS", probe);
    // by number: the kubelet looks a port name up among the probed container's own ports only,
    // and this container declares none (a name would fail every probe, and no pod be ready)
    assert.equal(typeof get.port, "number", `${probe}'s port is the proxy's, by number`);
    assert.ok(proxyPorts.includes(get.port), `${probe} goes to ${get.port}`);
  }
  assert.equal(container("stele").ports, undefined, "stele listens on no port of the pod's");
  assert.equal(container("stele").readinessProbe.httpGet.path, "/readyz");
  // --state lies on a volume claimed per pod (not emptyDir): a replaced pod keeps its floor
  const mount = container("stele").volumeMounts.find((m: { mountPath: string }) =>
    value("--state").startsWith(`${m.mountPath}/`),
  );
  assert.ok(mount, "--state is on a mounted volume");
  assert.ok(
    set.spec.volumeClaimTemplates.some(
      (t: { metadata: { name: string } }) => t.metadata.name === mount.name,
    ),
    `--state's volume ${mount.name} is claimed per pod`,
  );
  // --witness comes from the ConfigMap the README has `stele verify --witness` fill
  const witnessMount = container("stele").volumeMounts.find((m: { mountPath: string }) =>
    value("--witness").startsWith(`${m.mountPath}/`),
  );
  const witnessVolume = pod.volumes.find((v: { name: string }) => v.name === witnessMount?.name);
  assert.equal(witnessVolume?.configMap?.name, "stele-witness");
  assert.match(
    readFileSync(join(folder, "README.md"), "utf8"),
    /stele verify --store URL --witness checkpoint\.note && kubectl create configmap stele-witness .*--from-file=checkpoint\.note/,
  );
  assert.equal(value("--witness"), `${witnessMount.mountPath}/checkpoint.note`);
  // the Service the webhook calls, and the StatefulSet's own, select its pods
  const services = objects("service.yaml");
  assert.ok(services.some((s) => s.metadata.name === set.spec.serviceName));
  const [webhook] = objects("webhook.yaml");
  const called = webhook.webhooks[0].clientConfig.service;
  const service = services.find((s) => s.metadata.name === called.name);
  assert.deepEqual(service.spec.selector, set.spec.selector.matchLabels);
  assert.equal(
    service.spec.ports.find((p: { port: number }) => p.port === called.port).targetPort,
    "https",
  );
  assert.match(called.path, /^\/v1\/admission\b/);
});
