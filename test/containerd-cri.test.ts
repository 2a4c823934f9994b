/**
 * nodewasi under containerd 1.6.20's CRI plugin, driven the way the kubelet drives it: runtime.v1 over gRPC
 * on containerd's socket (test/harness/cri.ts), a pod with runtime handler `nodewasi` (the table of
 * examples/containerd/config-1.6-1.7.toml) on the host network (no CNI here), its pause sandbox run by the
 * shim's built-in pause module, wasm containers from `compat` images imported with ctr (nothing comes from the
 * internet). What the kubelet polls every few seconds, ContainerStats and ListContainerStats, must decode the
 * shim's metrics for every container of the pod.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { containerdUnavailable, type PrivateContainerd, startContainerd } from "./harness/containerd.js";
import {
  type CriClient,
  type CriMessage,
  criClient,
  criWasmArchive,
  pauseImageArchive,
} from "./harness/cri.js";
import { recordFigures } from "./harness/reliability.js";
import { until } from "./harness/task-kit.js";

const PAUSE = "nodewasi.test/pause";
const WASM = "nodewasi.test/cri-wasm";

describe("containerd's CRI plugin runs a nodewasi pod", { skip: containerdUnavailable() ?? false }, () => {
  let ctd: PrivateContainerd;
  let cri: CriClient;
  let tmp: string;
  let logs: string;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "nodewasi-cri-"));
    logs = join(tmp, "pods");
    mkdirSync(logs);
    ctd = await startContainerd("k8s.io", { cri: { sandboxImage: `${PAUSE}:3.9` } });
    for (const [name, archive] of [
      [PAUSE, await pauseImageArchive(tmp, "3.9")],
      [
        WASM,
        await criWasmArchive(tmp, {
          sleep: "examples/modules/sleep-ms.wasm",
          spin: "examples/modules/busy-loop.wasm",
          hello: "examples/hello/hello.wasm",
        }),
      ],
    ] as const) {
      const r = await ctd.ctr(["image", "import", "--base-name", name, archive]);
      assert.equal(r.code, 0, ctd.explain(r));
    }
    cri = criClient(ctd.address);
    // The CRI plugin learns of imported images from containerd's events.
    await until(
      async () => (await cri.image("ImageStatus", { image: { image: `${WASM}:spin` } })).image !== null,
      20_000,
      "the CRI plugin to see the imported images",
    );
  });

  after(async () => {
    cri?.close();
    await ctd?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** The pod's config, as the kubelet sends it with RunPodSandbox and again with each CreateContainer. */
  const podConfig = (name: string) => ({
    metadata: { name, uid: `uid-${name}`, namespace: "default", attempt: 0 },
    hostname: "",
    log_directory: join(logs, name),
    labels: { app: name },
    linux: { security_context: { namespace_options: { network: "NODE", pid: "CONTAINER", ipc: "POD" } } },
  });
  const runPod = async (name: string) => {
    const res = await cri.runtime("RunPodSandbox", { config: podConfig(name), runtime_handler: "nodewasi" });
    return res.pod_sandbox_id as string;
  };
  const startContainer = async (
    pod: string,
    podName: string,
    name: string,
    tag: string,
    args: string[] = [],
  ) => {
    const { container_id: id } = await cri.runtime("CreateContainer", {
      pod_sandbox_id: pod,
      config: {
        metadata: { name, attempt: 0 },
        image: { image: `${WASM}:${tag}` },
        args,
        log_path: `${name}.log`,
        labels: { container: name },
      },
      sandbox_config: podConfig(podName),
    });
    await cri.runtime("StartContainer", { container_id: id });
    return id as string;
  };
  const removePod = async (pod: string) => {
    await cri.runtime("StopPodSandbox", { pod_sandbox_id: pod });
    await cri.runtime("RemovePodSandbox", { pod_sandbox_id: pod });
  };
  const memoryOf = (s: CriMessage) => Number(s.memory?.working_set_bytes?.value ?? 0);
  const cpuOf = (s: CriMessage) => Number(s.cpu?.usage_core_nano_seconds?.value ?? 0);

  test("a pod of wasm containers: ContainerStats and ListContainerStats report memory and CPU", async (t) => {
    const pod = await runPod("stats");
    const status = await cri.runtime("PodSandboxStatus", { pod_sandbox_id: pod });
    assert.equal(status.status.state, "SANDBOX_READY");
    assert.equal(status.status.runtime_handler, "nodewasi");
    const sleeper = await startContainer(pod, "stats", "sleeper", "sleep", ["120000"]);
    const spinner = await startContainer(pod, "stats", "spinner", "spin");
    for (const id of [sleeper, spinner]) {
      const s = await cri.runtime("ContainerStatus", { container_id: id });
      assert.equal(s.status.state, "CONTAINER_RUNNING", JSON.stringify(s.status));
    }

    const one = (await cri.runtime("ContainerStats", { container_id: sleeper })).stats;
    assert.equal(one.attributes.id, sleeper);
    assert.ok(memoryOf(one) > 10 * 1024 * 1024, `working set ${JSON.stringify(one.memory)}`);
    assert.ok(cpuOf(one) > 0, `cpu ${JSON.stringify(one.cpu)}`);

    // The kubelet's poll: every container of the node, then of the pod, each with figures.
    const all = (await cri.runtime("ListContainerStats", {})).stats as CriMessage[];
    const byId = new Map(all.map((s) => [s.attributes.id as string, s]));
    for (const id of [sleeper, spinner]) {
      assert.ok(byId.has(id), `ListContainerStats lacks ${id}: ${JSON.stringify(all)}`);
      assert.ok(memoryOf(byId.get(id)!) > 10 * 1024 * 1024, JSON.stringify(byId.get(id)));
    }
    const ofPod = (await cri.runtime("ListContainerStats", { filter: { pod_sandbox_id: pod } })).stats;
    assert.deepEqual(ofPod.map((s: CriMessage) => s.attributes.id).sort(), [sleeper, spinner].sort());
    // The spinning guest's CPU grows between polls.
    const cpu0 = cpuOf(byId.get(spinner)!);
    let cpu1 = cpu0;
    await until(
      async () => {
        cpu1 = cpuOf((await cri.runtime("ContainerStats", { container_id: spinner })).stats);
        return cpu1 > cpu0 + 50e6;
      },
      20_000,
      "the spinner's CPU to grow",
    );
    recordFigures(t, {
      "containers measured": ofPod.length,
      "sleeper working set (MB)": Math.round(memoryOf(one) / 1e6),
      "spinner CPU between polls (ms)": Math.round((cpu1 - cpu0) / 1e6),
    });

    for (const id of [sleeper, spinner]) {
      await cri.runtime("StopContainer", { container_id: id, timeout: 2 });
      assert.equal(
        (await cri.runtime("ContainerStatus", { container_id: id })).status.state,
        "CONTAINER_EXITED",
      );
      await cri.runtime("RemoveContainer", { container_id: id });
    }
    await removePod(pod);
    await until(() => ctd.shims().length === 0, 20_000, "the pod's shim to exit");
  });

  test("ExecSync runs a module in a running container; a container's output lands in its CRI log", async () => {
    const pod = await runPod("exec");
    const sleeper = await startContainer(pod, "exec", "sleeper", "sleep", ["120000"]);
    const res = await cri.runtime("ExecSync", {
      container_id: sleeper,
      cmd: ["/hello.wasm", "probe"],
      timeout: 20,
    });
    assert.equal(res.exit_code, 0);
    assert.equal(Buffer.from(res.stdout).toString(), "Hello from nodewasi!\nprobe\n");
    const missing = await cri
      .runtime("ExecSync", { container_id: sleeper, cmd: ["/nope.wasm"], timeout: 20 })
      .then(
        () => undefined,
        (err: { details?: string }) => err.details ?? String(err),
      );
    assert.match(missing ?? "(it succeeded)", /module \/nope\.wasm not found in the rootfs/);
    const hello = await startContainer(pod, "exec", "hello", "hello", ["from", "cri"]);
    await until(
      async () =>
        (await cri.runtime("ContainerStatus", { container_id: hello })).status.state === "CONTAINER_EXITED",
      20_000,
      "hello to exit",
    );
    const status = (await cri.runtime("ContainerStatus", { container_id: hello })).status;
    assert.equal(status.exit_code, 0);
    // CRI's log format: "<RFC3339Nano time> stdout F <line>".
    const lines = readFileSync(status.log_path, "utf8").trim().split("\n");
    assert.deepEqual(
      lines.map((l) => l.split(" ").slice(1).join(" ")),
      ["stdout F Hello from nodewasi!", "stdout F from", "stdout F cri"],
    );
    for (const id of [sleeper, hello]) {
      await cri.runtime("StopContainer", { container_id: id, timeout: 2 });
      await cri.runtime("RemoveContainer", { container_id: id });
    }
    await removePod(pod);
  });

  test("an exec probe that used CPU and ended: the container's CPU never goes down, usage_nano_cores stays sane", async (t) => {
    const pod = await runPod("probe");
    const sleeper = await startContainer(pod, "probe", "sleeper", "sleep", ["120000"]);
    const readings: { total: number; rate: number }[] = [];
    const read = async () => {
      const cpu = (await cri.runtime("ContainerStats", { container_id: sleeper })).stats.cpu;
      readings.push({
        total: Number(cpu.usage_core_nano_seconds.value),
        rate: Number(cpu.usage_nano_cores.value),
      });
    };
    await read();
    // A probe that spins until ExecSync's timeout kills it: its CPU is the container's while it runs.
    let probing = true;
    const probe = cri
      .runtime("ExecSync", { container_id: sleeper, cmd: ["/busy-loop.wasm"], timeout: 3 })
      .then(
        () => assert.fail("a busy loop ended by itself"),
        () => {},
      )
      .finally(() => {
        probing = false;
      });
    while (probing) {
      await read();
      await new Promise((r) => setTimeout(r, 300));
    }
    await probe;
    const during = Math.max(...readings.map((r) => r.total));
    // The kubelet keeps polling after the probe is gone.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await read();
    }
    assert.ok(
      during > readings[0]!.total + 200e6,
      `the probe's CPU was counted: ${JSON.stringify(readings)}`,
    );
    for (let i = 1; i < readings.length; i++) {
      assert.ok(readings[i]!.total >= readings[i - 1]!.total, `CPU went down: ${JSON.stringify(readings)}`);
      assert.ok(
        readings[i]!.rate < 1024e9,
        `usage_nano_cores ${readings[i]!.rate}: ${JSON.stringify(readings)}`,
      );
    }
    recordFigures(t, {
      "CPU of the probe counted (ms)": Math.round((during - readings[0]!.total) / 1e6),
      "highest usage_nano_cores (cores)": Math.max(...readings.map((r) => r.rate)) / 1e9,
      readings: readings.length,
    });
    await cri.runtime("StopContainer", { container_id: sleeper, timeout: 2 });
    await cri.runtime("RemoveContainer", { container_id: sleeper });
    await removePod(pod);
  });
});
