// Drives the whole Proofsheet workflow through a client generated from /openapi/v1.json by tools
// nobody on the project wrote: openapi-typescript makes ./schema.d.ts from the live document and
// openapi-fetch is the client. `tsc --strict` checks this file against that schema first, so a
// response the document does not describe (or describes wrongly) fails to compile.
// Usage: node workflow.mjs BASE_URL API_KEY
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Task = components["schemas"]["TaskResponse"];

const [baseUrl, apiKey] = process.argv.slice(2);
if (!baseUrl || !apiKey) {
  throw new Error("usage: node workflow.mjs BASE_URL API_KEY");
}
const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${apiKey}` } });

function fail(step: string, detail: unknown): never {
  throw new Error(`${step}: ${JSON.stringify(detail)}`);
}

// 1. Create.
const created = await client.POST("/api/tasks", { body: { topic: "Keeping sourdough starter alive through winter", num_variations: 2 } });
if (created.response.status !== 202 || !created.data) fail("create", created.error);
const id: string = created.data.id;
console.log(`created ${id} (${created.data.status})`);

// A problem answer is typed too: an unknown task is a 404 problem with a detail.
const missing = await client.GET("/api/tasks/{id}", { params: { path: { id: "00000000000000000000000000000000" } } });
if (missing.response.status !== 404 || typeof missing.error?.detail !== "string") fail("404 problem", missing.error);

// 2. Watch: read the event stream until the task awaits approval.
const events = await client.GET("/api/tasks/{id}/events", { params: { path: { id } }, parseAs: "stream" });
if (!events.response.ok || !events.data) fail("watch", events.response.status);
if (!events.response.headers.get("content-type")?.startsWith("text/event-stream")) fail("watch content type", events.response.headers.get("content-type"));
const reader = events.data.pipeThrough(new TextDecoderStream()).getReader();
let buffer = "";
let status = "";
watch: while (true) {
  const { value, done } = await reader.read();
  if (done) break;
  buffer += value;
  let end: number;
  while ((end = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    const type = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (type === "status" && data) {
      status = (JSON.parse(data) as { status: string }).status;
      console.log(`status ${status}`);
      if (status === "awaiting_approval" || status === "failed" || status === "cancelled") break watch;
    }
  }
}
await reader.cancel();
if (status !== "awaiting_approval") fail("watch", status);

// 3. Select the second candidate.
const read = await client.GET("/api/tasks/{id}", { params: { path: { id } } });
if (!read.data) fail("read", read.error);
const variations = read.data.metadata.image_variations;
if (variations.length !== 2) fail("candidates", variations.length);
const second = variations[1]!;
const selected = await client.POST("/api/tasks/{id}/select", { params: { path: { id } }, body: { image_id: second.image_id } });
if (!selected.data) fail("select", selected.error);
if (selected.data.metadata.selected_image_index !== second.index) fail("selected index", selected.data.metadata.selected_image_index);

// A bad choice is a validation problem naming the field.
const bad = await client.POST("/api/tasks/{id}/select", { params: { path: { id } }, body: { index: 0 } });
if (bad.response.status !== 400 || !bad.error || !("errors" in bad.error) || !bad.error.errors?.["index"]) fail("400 problem", bad.error);

// 4. Approve (200 once published, 202 while the upload is under way).
const approved = await client.POST("/api/tasks/{id}/approve", { params: { path: { id } }, body: { feedback: "The second image is the warmest." } });
if (!approved.data) fail("approve", approved.error);
let task: Task = approved.data;
while (task.status !== "published") {
  if (task.status === "failed") fail("publish", task.error);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const again = await client.GET("/api/tasks/{id}", { params: { path: { id } } });
  if (!again.data) fail("read after approve", again.error);
  task = again.data;
}

// 5. Read the post.
if (!task.slug) fail("slug", task);
const post = await client.GET("/api/posts/{slug}", { params: { path: { slug: task.slug } } });
if (!post.data) fail("post", post.error);
if (post.data.title !== task.title || !post.data.featured_image_url) fail("post content", post.data);
console.log(`published ${post.data.url} with ${post.data.featured_image_url}`);
console.log("WORKFLOW OK");
