import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isMessage } from "@bufbuild/protobuf";
import { RecordingPublisher } from "../../test/harness/recording-publisher.js";
import * as gen from "../gen/index.js";
import { type TaskEventSchema, taskEvent } from "./events.js";

describe("taskEvent", () => {
  it("gives each task event containerd's topic and a message of its schema", () => {
    // containerd's topics (runtime/events.go) follow the event's name: TaskExecAdded -> /tasks/exec-added.
    const topicOf = (typeName: string) =>
      `/tasks/${typeName
        .replace("containerd.events.Task", "")
        .replace(/(?<=[a-z])(?=[A-Z])/g, "-")
        .toLowerCase()}`;
    const published: TaskEventSchema[] = [gen.TaskCreateSchema, gen.TaskStartSchema, gen.TaskOOMSchema];
    published.push(gen.TaskExitSchema, gen.TaskDeleteSchema, gen.TaskExecAddedSchema);
    published.push(gen.TaskExecStartedSchema, gen.TaskPausedSchema, gen.TaskResumedSchema);
    for (const schema of published) {
      const e = taskEvent(schema, { containerId: "c" });
      assert.equal(e.topic, topicOf(schema.typeName));
      assert.equal(e.schema, schema);
      assert.ok(isMessage(e.event, schema), schema.typeName);
      assert.equal(e.event.containerId, "c");
    }
    assert.equal(taskEvent(gen.TaskExecStartedSchema, {}).topic, "/tasks/exec-started");
    assert.equal(taskEvent(gen.TaskOOMSchema, {}).topic, "/tasks/oom");
  });

  it("fills the fields it is given and leaves the others at their defaults", () => {
    const e = taskEvent(gen.TaskExitSchema, { containerId: "c", id: "x", exitStatus: 3 });
    assert.deepEqual([e.event.containerId, e.event.id, e.event.exitStatus, e.event.pid], ["c", "x", 3, 0]);
  });
});

describe("RecordingPublisher", () => {
  it("keeps events in order and answers next() for a past or a future one", async () => {
    const pub = new RecordingPublisher();
    pub.publish(taskEvent(gen.TaskCreateSchema, { containerId: "a" }));
    const exit = pub.next((e) => e.topic === "/tasks/exit");
    assert.equal((await pub.next((e) => e.topic === "/tasks/create")).event.containerId, "a");
    pub.publish(taskEvent(gen.TaskExitSchema, { containerId: "a", exitStatus: 1 }));
    assert.equal((await exit).schema, gen.TaskExitSchema);
    assert.deepEqual(pub.topics(), ["/tasks/create", "/tasks/exit"]);
  });
});
