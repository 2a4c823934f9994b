import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { breakdown, lineTime } from "./ctr-breakdown.js";

// containerd 1.6's debug log for one `ctr run --rm` through nodewasi (trimmed).
const LOG = `time="2026-11-28T06:23:38.009917081Z" level=debug msg="prepare snapshot" key=p-2 parent="sha256:f2"
time="2026-11-28T06:23:38.028936548Z" level=debug msg="get snapshot mounts" key=p-2
time="2026-11-28T06:23:38.035187535Z" level=debug msg="event published" ns=probe topic=/containers/create type=containerd.events.ContainerCreate
time="2026-11-28T06:23:38.042450688Z" level=debug msg="get snapshot mounts" key=p-2
time="2026-11-28T06:23:38.300Z" nodewasi-shim[20489]: serving probe/p-2 on /tmp/s/5c {"pid":20489}
time="2026-11-28T06:23:38.350710928Z" level=debug msg="event forwarded" ns=probe topic=/tasks/create type=containerd.events.TaskCreate
time="2026-11-28T06:23:38.450084335Z" level=debug msg="event forwarded" ns=probe topic=/tasks/start type=containerd.events.TaskStart
time="2026-11-28T06:23:38.460168484Z" level=debug msg="event forwarded" ns=probe topic=/tasks/exit type=containerd.events.TaskExit
time="2026-11-28T06:23:38.470664540Z" level=debug msg="event forwarded" ns=probe topic=/tasks/delete type=containerd.events.TaskDelete
time="2026-11-28T06:23:38.471449234Z" level=info msg="shim disconnected" id=p-2
time="2026-11-28T06:23:38.530116373Z" level=debug msg="remove snapshot" key=p-2
`;

describe("ctr breakdown", () => {
  test("reads containerd's and the shim's time stamps to the millisecond", () => {
    assert.equal(
      lineTime('time="2026-11-28T06:23:38.009917081Z" level=debug'),
      Date.UTC(2026, 10, 28, 6, 23, 38, 9),
    );
    assert.equal(lineTime('time="2026-11-28T06:23:38Z" x'), Date.UTC(2026, 10, 28, 6, 23, 38));
    assert.ok(Number.isNaN(lineTime("nodewasi-shim[1]: serving")));
  });

  test("splits a run at the task's mounts, the daemon's first line, the four events and the snapshot removal", () => {
    const start = Date.UTC(2026, 10, 28, 6, 23, 38, 0);
    assert.deepEqual(breakdown(LOG, start, start + 600), {
      "ctr until task create": 42,
      "shim start, daemon up": 258,
      Create: 50,
      Start: 100,
      "guest runs, exits": 10,
      Delete: 10,
      "shim exits + delete": 60,
      "ctr after": 70,
    });
  });

  test("a missing mark merges its phase into the next", () => {
    const start = Date.UTC(2026, 10, 28, 6, 23, 38, 0);
    const noDaemonLine = LOG.split("\n")
      .filter((l) => !l.includes("serving"))
      .join("\n");
    const b = breakdown(noDaemonLine, start, start + 600);
    assert.equal(b["shim start, daemon up"], undefined);
    assert.equal(b.Create, 308);
  });
});
