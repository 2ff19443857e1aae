#!/usr/bin/env node
// Browser test of the built frontend against a running gateway (real stack or the fake one).
// Drives Debian's headless Chromium through playwright-core (never downloads a browser).
//
//   node tests/e2e.mjs --base-url http://127.0.0.1:8002 \
//     --vp-query 'product_type=future_mbo&symbol=MNQH6&dt=2026-02-06&start_time=09:25&serving=ads_pfp_svac_baseline&speed=1' \
//     --expect-serving ads_pfp_svac_baseline --run-id r123 --artifacts ../test-artifacts
//
// Prints one JSON line of results on stdout ({"ok":true,...}); exits 1 on the first failure
// (the JSON then carries "error"). Screenshots go to --artifacts.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

function parseArgs(argv) {
  const opts = {
    baseUrl: "http://127.0.0.1:8002",
    vpQuery: "product_type=future_mbo&symbol=MNQH6&dt=2026-02-06&start_time=09:25",
    expectServing: "",
    runId: "",
    artifacts: "test-artifacts",
    minBins: 30,
    bootTimeoutS: 180,
    measureS: 5,
    minFps: 30,
    scoreTimeoutS: 90,
    chromium: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    skipExperiments: false,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    switch (a) {
      case "--base-url": opts.baseUrl = next(); break;
      case "--vp-query": opts.vpQuery = next(); break;
      case "--expect-serving": opts.expectServing = next(); break;
      case "--run-id": opts.runId = next(); break;
      case "--artifacts": opts.artifacts = next(); break;
      case "--min-bins": opts.minBins = Number(next()); break;
      case "--boot-timeout": opts.bootTimeoutS = Number(next()); break;
      case "--measure-seconds": opts.measureS = Number(next()); break;
      case "--min-fps": opts.minFps = Number(next()); break;
      case "--score-timeout": opts.scoreTimeoutS = Number(next()); break;
      case "--chromium": opts.chromium = next(); break;
      case "--skip-experiments": opts.skipExperiments = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  return opts;
}

const opts = parseArgs(process.argv);
const artifacts = resolve(opts.artifacts);
mkdirSync(artifacts, { recursive: true });
const result = { ok: false, steps: [] };
const step = (name, data = {}) => {
  result.steps.push({ name, ...data });
  process.stderr.write(`[e2e] ${name} ${JSON.stringify(data)}\n`);
};
function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function waitFor(page, fn, arg, timeoutS, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout: timeoutS * 1000, polling: 250 });
  } catch {
    const vp = await page.evaluate(() => window.__vp ?? window.__exp ?? null).catch(() => null);
    throw new Error(`timed out after ${timeoutS}s waiting for ${what}; page state: ${JSON.stringify(vp)}`);
  }
}

/** Count pixels of a canvas region that are not background (heatmap painted). */
async function paintedPixels(page, selector, region) {
  return page.evaluate(
    ([sel, reg]) => {
      const c = document.querySelector(sel);
      const ctx = c.getContext("2d");
      const w = reg ? Math.min(reg.w, c.width) : c.width;
      const h = reg ? Math.min(reg.h, c.height) : c.height;
      const d = ctx.getImageData(0, 0, w, h).data;
      let painted = 0;
      const colors = new Set();
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] + d[i + 1] + d[i + 2] > 60) {
          painted++;
          if (colors.size < 64) colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        }
      }
      return { painted, total: w * h, distinctColors: colors.size };
    },
    [selector, region],
  );
}

async function heatmapPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1500, height: 850 } });
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  const url = `${opts.baseUrl}/vacuum-pressure.html?${opts.vpQuery}`;
  await page.goto(url, { waitUntil: "load" });
  step("heatmap:opened", { url });

  await waitFor(page, (n) => window.__vp && window.__vp.binsReceived >= n, opts.minBins, opts.bootTimeoutS, `${opts.minBins} bins`);
  let vp = await page.evaluate(() => ({ ...window.__vp }));
  step("heatmap:streaming", { binsReceived: vp.binsReceived, connectionState: vp.connectionState, pipeline: vp.pipelineName, serving: vp.servingName });
  check(vp.connectionState === "open", `connection state ${vp.connectionState}`);
  check(vp.errors.length === 0, `page errors: ${vp.errors.join("; ")}`);

  // a couple of frames after the latest bin, the heat area must be painted
  await page.waitForTimeout(300);
  const heatW = await page.evaluate(() => document.getElementById("heatmap").width - 90 - 64);
  const heat = await paintedPixels(page, "#heatmap", { w: heatW, h: 700 });
  step("heatmap:pixels", heat);
  check(heat.painted > 2000 && heat.distinctColors > 4, `heatmap looks empty: ${JSON.stringify(heat)}`);
  const depth = await paintedPixels(page, "#depth", null);
  step("depth:pixels", depth);
  check(depth.painted > 100, `depth profile looks empty: ${JSON.stringify(depth)}`);

  // gauges and labels
  const binInfo = await page.textContent("#bin-info");
  check(/bin_seq/.test(binInfo ?? ""), "bin info panel not updated");
  const state5 = await page.textContent("#state5-counts");
  check(/\d/.test(state5 ?? ""), "state5 counts not updated");
  const servingLabel = (await page.textContent("#serving-label")) ?? "";
  step("heatmap:serving-label", { servingLabel });
  if (opts.expectServing) {
    check(servingLabel.includes(opts.expectServing), `serving label '${servingLabel}' lacks '${opts.expectServing}'`);
    await waitFor(page, () => window.__vp.lastSignalScore !== null || window.__vp.lastFlowNearSpot !== null, null, opts.scoreTimeoutS, "a server-computed score");
    const gauge = await page.evaluate(() => ({
      signal: document.querySelector("#gauge-signal .gauge-value").textContent,
      flow: document.querySelector("#gauge-flow .gauge-value").textContent,
      counts: document.getElementById("flow-counts").textContent,
      projection: document.getElementById("projection-values").textContent,
    }));
    step("heatmap:gauges", gauge);
    check(gauge.signal !== "—" || gauge.flow !== "—", `gauges not updated: ${JSON.stringify(gauge)}`);
  }
  const pipelineParams = await page.textContent("#pipeline-params");
  check((pipelineParams ?? "").length > 10, "pipeline params not shown");

  // frame rate while bins arrive
  const a = await page.evaluate(() => ({ f: window.__vp.framesDrawn, b: window.__vp.binsReceived, t: performance.now() }));
  await page.waitForTimeout(opts.measureS * 1000);
  const b = await page.evaluate(() => ({ f: window.__vp.framesDrawn, b: window.__vp.binsReceived, t: performance.now(), fps: window.__vp.fps }));
  const dt = (b.t - a.t) / 1000;
  const perf = { fps: +((b.f - a.f) / dt).toFixed(1), binsPerSecond: +((b.b - a.b) / dt).toFixed(1), pageFps: b.fps, seconds: +dt.toFixed(2) };
  step("heatmap:perf", perf);
  result.perf = perf;
  check(perf.fps >= opts.minFps, `fps ${perf.fps} < ${opts.minFps}`);

  // interactions: crosshair tooltip, zoom, pan, follow live, pause
  const box = await page.locator("#heatmap").boundingBox();
  await page.mouse.move(box.x + heatW - 60, box.y + box.height / 2);
  await page.waitForTimeout(150);
  const tip = await page.evaluate(() => ({ hidden: document.getElementById("tooltip").hidden, text: document.getElementById("tooltip").textContent }));
  step("heatmap:tooltip", { hidden: tip.hidden, text: (tip.text ?? "").slice(0, 120) });
  check(!tip.hidden && /price/.test(tip.text ?? ""), "crosshair tooltip not shown");
  await page.screenshot({ path: join(artifacts, "vacuum-pressure.png") });
  await page.mouse.wheel(0, -300);
  await page.mouse.down();
  await page.mouse.move(box.x + heatW - 200, box.y + box.height / 2 + 40, { steps: 5 });
  await page.mouse.up();
  await page.waitForTimeout(400);
  const panned = await page.textContent("#stats");
  check(/panned/.test(panned ?? ""), `drag did not pan the view: ${panned}`);
  await page.click("#follow-btn");
  await page.waitForTimeout(300);
  check(/following live/.test((await page.textContent("#stats")) ?? ""), "follow live did not reset the view");
  await page.click("#pause-btn");
  await page.waitForTimeout(300);
  check(/paused/.test((await page.textContent("#stats")) ?? ""), "pause did not pause");
  await page.click("#pause-btn");
  // another column renders without a full repaint per bin
  await page.selectOption("#column-select", "pressure_variant");
  await page.waitForTimeout(400);
  vp = await page.evaluate(() => ({ ...window.__vp }));
  check(vp.column === "pressure_variant", "column switch failed");
  step("heatmap:column-switch", { column: vp.column, fullRepaints: vp.fullRepaints, binsReceived: vp.binsReceived });
  await page.screenshot({ path: join(artifacts, "vacuum-pressure-pressure_variant.png") });
  check(consoleErrors.length === 0, `console errors: ${consoleErrors.join(" | ")}`);
  result.heatmap = { binsReceived: vp.binsReceived, serving: vp.servingName, pipeline: vp.pipelineName, fullRepaints: vp.fullRepaints };
  await page.close();
}

async function experimentsPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1500, height: 850 } });
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(`${opts.baseUrl}/experiments.html?min_signals=0`, { waitUntil: "load" });
  await waitFor(page, () => window.__exp && window.__exp.runsLoaded > 0, null, 30, "runs in the table");
  const rows = await page.locator("#runs-table tbody tr").count();
  step("experiments:rows", { rows });
  const target = opts.runId ? `#runs-table tbody tr[data-run-id="${opts.runId}"]` : "#runs-table tbody tr";
  check((await page.locator(target).count()) > 0, `run ${opts.runId || "(any)"} not listed`);
  await page.locator(target).first().click();
  await waitFor(page, () => window.__exp.detailRunId !== null, null, 30, "run detail");
  const detail = await page.evaluate(() => ({
    runId: document.getElementById("detail-run-id")?.textContent,
    href: document.getElementById("stream-link")?.getAttribute("href"),
    metricsRows: document.querySelectorAll("#metrics-table tbody tr").length,
  }));
  step("experiments:detail", detail);
  if (opts.runId) check(detail.runId === opts.runId, `detail shows ${detail.runId}, expected ${opts.runId}`);
  check(detail.metricsRows > 0, "no metrics per threshold");
  check(/vacuum-pressure\.html\?.*symbol=/.test(detail.href ?? ""), `bad stream link ${detail.href}`);
  const pnl = await paintedPixels(page, "#pnl-canvas", null);
  step("experiments:pnl-pixels", pnl);
  check(pnl.painted > 50, "PnL plot empty");
  // sorting by another key refetches
  await page.click('#runs-table th[data-key="mean_pnl_ticks"]');
  await page.waitForTimeout(500);
  check((await page.inputValue("#f-sort")) === "mean_pnl_ticks", "sort click did not apply");
  await page.screenshot({ path: join(artifacts, "experiments.png") });
  check(consoleErrors.length === 0, `console errors: ${consoleErrors.join(" | ")}`);
  result.experiments = { rows, detailRunId: detail.runId, streamUrl: detail.href };
  await page.close();
}

const browser = await chromium.launch({ executablePath: opts.chromium, headless: true, args: CHROMIUM_ARGS });
try {
  await heatmapPage(browser);
  if (!opts.skipExperiments) await experimentsPage(browser);
  result.ok = true;
} catch (err) {
  result.error = String(err?.message ?? err);
} finally {
  await browser.close();
  writeFileSync(join(artifacts, "e2e-result.json"), JSON.stringify(result, null, 2));
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(result.ok ? 0 : 1);
}
