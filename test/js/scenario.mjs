// The official Meilisearch JavaScript client (npm package "meilisearch")
// against miroir's proxy handler: create an index, add documents, wait for
// the tasks, search with filter, facets and sort, update a setting, read
// the tasks. Every answer is checked against what one Meilisearch would
// return for the same documents. Exits non-zero on the first failure.
//
//   MEILI_HOST=http://127.0.0.1:7700 MEILI_KEY=masterKey node scenario.mjs

import assert from "node:assert/strict";
import { Meilisearch } from "meilisearch";

const host = process.env.MEILI_HOST;
const apiKey = process.env.MEILI_KEY || undefined;
if (!host) {
  console.error("MEILI_HOST is not set");
  process.exit(2);
}
const client = new Meilisearch({ host, apiKey });
const uid = `movies_${Date.now()}`;

const genres = ["drama", "action", "comedy", "horror", "animation"];
const words = ["love", "war", "space", "crime", "family", "river", "night", "city"];
const movies = Array.from({ length: 120 }, (_, i) => ({
  id: i + 1,
  title: `${words[i % words.length]} ${words[(i * 3 + 1) % words.length]} ${i + 1}`,
  genre: genres[i % genres.length],
  year: 1960 + ((i * 7) % 60),
  rating: ((i * 13) % 50) / 10,
}));

let step = "";
async function check(name, fn) {
  step = name;
  await fn();
  console.log(`ok   ${name}`);
}

try {
  await check("health and version", async () => {
    assert.deepEqual(await client.health(), { status: "available" });
    const v = await client.getVersion();
    assert.equal(typeof v.pkgVersion, "string");
  });

  await check("create the index and wait for its task", async () => {
    const task = await client.createIndex(uid, { primaryKey: "id" }).waitTask();
    assert.equal(task.status, "succeeded", JSON.stringify(task));
    assert.equal(task.type, "indexCreation");
    const index = await client.getIndex(uid);
    assert.equal(index.uid, uid);
    assert.equal(index.primaryKey, "id");
  });

  const index = client.index(uid);

  await check("filterable and sortable attributes", async () => {
    const t1 = await index.updateFilterableAttributes(["genre", "year"]).waitTask();
    assert.equal(t1.status, "succeeded", JSON.stringify(t1));
    const t2 = await index.updateSortableAttributes(["year", "rating"]).waitTask();
    assert.equal(t2.status, "succeeded", JSON.stringify(t2));
    assert.deepEqual((await index.getFilterableAttributes()).sort(), ["genre", "year"]);
  });

  await check("add documents (JSON, then CSV) and wait", async () => {
    const t = await index.addDocuments(movies.slice(0, 100)).waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
    assert.equal(t.type, "documentAdditionOrUpdate");
    assert.equal(t.details.receivedDocuments, 100);
    const csv = "id,title,genre,year:number,rating:number\n" +
      movies.slice(100).map((m) => `${m.id},${m.title},${m.genre},${m.year},${m.rating}`).join("\n") + "\n";
    const t2 = await index.addDocumentsFromString(csv, "text/csv").waitTask();
    assert.equal(t2.status, "succeeded", JSON.stringify(t2));
    const stats = await index.getStats();
    assert.equal(stats.numberOfDocuments, movies.length);
    assert.ok(!("_miroir_shard" in stats.fieldDistribution), "the shard field shows in stats");
  });

  await check("get documents", async () => {
    const doc = await index.getDocument(42);
    assert.deepEqual(doc, movies[41]);
    const page = await index.getDocuments({ limit: 10, offset: 5, filter: "genre = comedy" });
    const comedies = movies.filter((m) => m.genre === "comedy");
    assert.equal(page.total, comedies.length);
    assert.equal(page.results.length, 10);
    for (const d of page.results) assert.equal(d.genre, "comedy");
  });

  await check("search with filter, facets and sort", async () => {
    const res = await index.search("", {
      filter: "genre = drama AND year >= 1980",
      facets: ["genre", "year"],
      sort: ["year:desc", "rating:asc"],
      limit: 7,
    });
    const want = movies
      .filter((m) => m.genre === "drama" && m.year >= 1980)
      .sort((a, b) => b.year - a.year || a.rating - b.rating);
    assert.equal(res.estimatedTotalHits, want.length);
    assert.deepEqual(res.hits.map((h) => [h.year, h.rating]), want.slice(0, 7).map((m) => [m.year, m.rating]));
    for (const h of res.hits) {
      assert.equal(h.genre, "drama");
      assert.ok(!("_miroir_shard" in h), "the shard field shows in hits");
    }
    assert.deepEqual(res.facetDistribution.genre, { drama: want.length });
    const years = {};
    for (const m of want) years[m.year] = (years[m.year] || 0) + 1;
    assert.deepEqual(res.facetDistribution.year, Object.fromEntries(Object.entries(years).map(([k, v]) => [String(k), v])));
    assert.equal(res.facetStats.year.min, Math.min(...want.map((m) => m.year)));
    assert.equal(res.facetStats.year.max, Math.max(...want.map((m) => m.year)));
  });

  await check("search with words, a typo and pages", async () => {
    const res = await index.search("spase", { hitsPerPage: 5, page: 2, attributesToHighlight: ["title"] });
    const want = movies.filter((m) => m.title.split(" ").includes("space"));
    assert.equal(res.totalHits, want.length);
    assert.equal(res.totalPages, Math.ceil(want.length / 5));
    assert.equal(res.page, 2);
    assert.equal(res.hits.length, Math.min(5, want.length - 5));
    for (const h of res.hits) assert.match(h._formatted.title, /<em>space<\/em>/);
    const numeric = await index.search("7", { limit: 200 });
    // Every hit holds the word 7 somewhere (the shard field must not match).
    for (const h of numeric.hits) assert.match(JSON.stringify(h), /7/, `a numeric query matched the shard field: ${JSON.stringify(h)}`);
  });

  await check("multi-search and facet search", async () => {
    const { results } = await client.multiSearch({
      queries: [
        { indexUid: uid, q: "love", limit: 3 },
        { indexUid: uid, q: "", filter: "genre = horror", limit: 1 },
      ],
    });
    assert.equal(results.length, 2);
    assert.equal(results[1].estimatedTotalHits, movies.filter((m) => m.genre === "horror").length);
    const fs = await index.searchForFacetValues({ facetName: "genre", facetQuery: "an" });
    assert.deepEqual(fs.facetHits, [{ value: "animation", count: movies.filter((m) => m.genre === "animation").length }]);
  });

  await check("update a setting", async () => {
    const t = await index.updateTypoTolerance({ enabled: false }).waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
    assert.equal(t.type, "settingsUpdate");
    assert.equal((await index.getTypoTolerance()).enabled, false);
    const res = await index.search("spase");
    assert.equal(res.hits.length, 0, "typo tolerance is off");
    const t2 = await index.updateRankingRules(["words", "sort", "rating:desc", "typo", "proximity", "attribute", "exactness"]).waitTask();
    assert.equal(t2.status, "succeeded", JSON.stringify(t2));
    const top = await index.search("war", { limit: 3 });
    const want = movies.filter((m) => m.title.split(" ").includes("war")).sort((a, b) => b.rating - a.rating);
    assert.deepEqual(top.hits.map((h) => h.rating), want.slice(0, 3).map((m) => m.rating));
    const settings = await index.getSettings();
    assert.equal(settings.typoTolerance.enabled, false);
    assert.ok(!settings.filterableAttributes.includes("_miroir_shard"), "the shard field shows in settings");
  });

  await check("read tasks", async () => {
    const { results, total } = await client.tasks.getTasks({ indexUids: [uid], limit: 50 });
    assert.ok(total >= 7, `total ${total}`);
    for (const t of results) {
      assert.equal(t.indexUid, uid);
      assert.equal(t.status, "succeeded", JSON.stringify(t));
    }
    const types = new Set(results.map((t) => t.type));
    for (const ty of ["indexCreation", "documentAdditionOrUpdate", "settingsUpdate"]) assert.ok(types.has(ty), `no ${ty} task`);
    const one = await client.tasks.getTask(results[0].uid);
    assert.equal(one.uid, results[0].uid);
    const settingsTasks = await client.tasks.getTasks({ indexUids: [uid], types: ["settingsUpdate"], statuses: ["succeeded"] });
    assert.equal(settingsTasks.results.length, 4);
  });

  await check("errors keep Meilisearch's shape", async () => {
    await assert.rejects(index.search("", { filter: "title = x" }), (e) => {
      assert.equal(e.cause?.code, "invalid_search_filter");
      assert.equal(e.cause?.type, "invalid_request");
      return true;
    });
    await assert.rejects(client.getIndex("no_such_index"), (e) => e.cause?.code === "index_not_found");
  });

  // Calls whose tasks are not awaited (each call's 202 is, so that they
  // reach the server in order, as they would reach one node): Meilisearch
  // processes one index's tasks in the order they came, and so must the
  // fleet.
  const docs = movies.slice(0, 30);
  await check("un-awaited: delete the index, then add documents", async () => {
    const u = `${uid}_del`;
    await client.createIndex(u, { primaryKey: "id" }).waitTask();
    await client.index(u).addDocuments(movies.slice(50, 60)).waitTask();
    const del = await client.deleteIndex(u);
    const add = await client.index(u).addDocuments(docs);
    const td = await client.tasks.waitForTask(del.taskUid);
    const ta = await client.tasks.waitForTask(add.taskUid);
    assert.equal(td.status, "succeeded", JSON.stringify(td));
    assert.equal(ta.status, "succeeded", JSON.stringify(ta));
    assert.equal((await client.index(u).getStats()).numberOfDocuments, docs.length);
    const res = await client.index(u).search("", { limit: 100 });
    assert.equal(res.hits.length, docs.length);
    await client.deleteIndex(u).waitTask();
  });

  await check("un-awaited: create, filterable attributes, add, delete by filter", async () => {
    const u = `${uid}_seq`;
    const idx = client.index(u);
    const enqueued = [
      await client.createIndex(u, { primaryKey: "id" }),
      await idx.updateFilterableAttributes(["genre"]),
      await idx.addDocuments(docs),
      await idx.deleteDocuments({ filter: "genre = comedy" }),
    ];
    const tasks = [];
    for (const e of enqueued) tasks.push(await client.tasks.waitForTask(e.taskUid));
    for (const t of tasks) assert.equal(t.status, "succeeded", JSON.stringify(t));
    const comedies = docs.filter((m) => m.genre === "comedy").length;
    assert.equal(tasks[3].details.deletedDocuments, comedies, JSON.stringify(tasks[3]));
    const res = await idx.search("", { filter: "genre = drama", limit: 100 });
    assert.equal(res.hits.length, docs.filter((m) => m.genre === "drama").length);
    assert.equal((await idx.getStats()).numberOfDocuments, docs.length - comedies);
    await client.deleteIndex(u).waitTask();
  });

  await check("a search key cannot change settings", async () => {
    const { results } = await client.getKeys();
    const searchKey = results.find((k) => k.name === "Default Search API Key");
    assert.ok(searchKey, "no default search key");
    const limited = new Meilisearch({ host, apiKey: searchKey.key });
    await assert.rejects(limited.index(uid).updateSettings({ sortableAttributes: ["title"] }), (e) => e.cause?.code === "invalid_api_key");
    await assert.rejects(limited.index(uid).resetSettings(), (e) => e.cause?.code === "invalid_api_key");
    const res = await limited.index(uid).search("love", { limit: 1 });
    assert.equal(res.hits.length, 1);
  });
  await check("delete documents and the index", async () => {
    const t = await index.deleteDocuments({ filter: "genre = comedy" }).waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
    assert.equal((await index.getStats()).numberOfDocuments, movies.length - movies.filter((m) => m.genre === "comedy").length);
    const d = await client.deleteIndex(uid).waitTask();
    assert.equal(d.status, "succeeded", JSON.stringify(d));
  });
  console.log("PASS js scenario");
} catch (e) {
  console.error(`FAIL ${step}:`, e);
  process.exit(1);
}
