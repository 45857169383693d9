// 智能仪表板 and 数据分析中心: fetch JSON, draw with the locally served plotly.js.
'use strict';

const CFG = { responsive: true, displaylogo: false };
const LAYOUT = { margin: { l: 50, r: 16, t: 10, b: 40 }, font: { family: 'Noto Sans CJK SC, sans-serif', size: 12 }, legend: { orientation: 'h', y: -0.2 } };
const $ = (id) => document.getElementById(id);
const yuan = (v) => '¥' + Number(v || 0).toLocaleString('zh-CN', { maximumFractionDigits: 2 });
const pct = (v) => (v === null || v === undefined) ? '—' : (v * 100).toFixed(1) + '%';

async function getJSON(url) {
  // the page's head starts its first requests while plotly.js is still loading
  const early = window.__early && window.__early[url];
  if (early) delete window.__early[url];
  const res = await (early || fetch(url));
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.detail || ('请求失败 ' + res.status));
  return body;
}

function empty(id, text) {
  const el = $(id);
  if (!el) return;
  if (el.data) Plotly.purge(el);
  el.innerHTML = '';
  const d = document.createElement('div');
  d.className = 'empty';
  d.textContent = text || '暂无数据';
  el.appendChild(d);
}

function plot(id, traces, layout) {
  const el = $(id);
  if (!el) return Promise.resolve();
  el.innerHTML = '';
  return Plotly.react(el, traces, Object.assign({}, LAYOUT, layout || {}), CFG);
}

function li(list, text, extra) {
  const item = document.createElement('li');
  item.textContent = text;
  if (extra) item.appendChild(extra);
  list.appendChild(item);
}

function kpiCards(k, range) {
  const box = $('kpis');
  if (!box) return;
  box.innerHTML = '';
  // which days the cards add up: "今天" or the 30 days shown when today has no orders yet
  let cap = $('kpi-range');
  if (!cap) { cap = document.createElement('p'); cap.id = 'kpi-range'; cap.className = 'muted small'; box.before(cap); }
  cap.textContent = range || (k.range ? `${k.range.start} 至 ${k.range.end}` : '');
  const cards = k.empty && !k.orders ? [['暂无订单', '—']] : [
    ['GMV（含未支付）', yuan(k.gmv)], ['支付GMV', yuan(k.paid_gmv)], ['订单数', k.orders],
    ['笔单价', yuan(k.aov)], ['UV价值', yuan(k.uv_value)], ['GPM', yuan(k.gpm)],
    ['转化率', pct(k.conversion)], ['退款', yuan(k.refund)],
  ];
  for (const [label, value] of cards) {
    const d = document.createElement('div');
    d.className = 'kpi';
    const v = document.createElement('div'); v.className = 'v'; v.textContent = value;
    const l = document.createElement('div'); l.className = 'l'; l.textContent = label;
    d.append(v, l); box.appendChild(d);
  }
}

function drawTrend(id, rows, grain) {
  if (!rows.length || rows.every((r) => !r.orders)) return empty(id, '所选时间内没有订单');
  const x = rows.map((r) => r.period);
  const traces = [
    { type: 'bar', name: 'GMV', x, y: rows.map((r) => r.gmv), marker: { color: '#f4a582' } },
    { type: 'scatter', mode: 'lines', name: '支付GMV', x, y: rows.map((r) => r.paid_gmv), line: { color: '#aa3c28' } },
  ];
  if (grain !== 'day' || rows.length <= 120) {
    traces.push({ type: 'scatter', mode: 'lines+markers', name: '同比', yaxis: 'y2', x, y: rows.map((r) => r.yoy), line: { dash: 'dot', color: '#4c72b0' } });
    traces.push({ type: 'scatter', mode: 'lines+markers', name: '环比', yaxis: 'y2', x, y: rows.map((r) => r.mom), line: { dash: 'dot', color: '#55a868' } });
  }
  return plot(id, traces, { yaxis: { title: { text: '元' } }, yaxis2: { overlaying: 'y', side: 'right', tickformat: '.0%', showgrid: false }, xaxis: { type: 'category' } });
}

function drawBars(id, rows, label, value, opts) {
  if (!rows.length) return empty(id);
  return plot(id, [{ type: 'bar', orientation: 'h', y: rows.map(label).reverse(), x: rows.map(value).reverse(), marker: { color: '#aa3c28' } }], Object.assign({ margin: { l: 90, r: 16, t: 10, b: 40 } }, opts || {}));
}

// -- 智能仪表板 ---------------------------------------------------------------------------------
function drawWarnings(w) {
  const stock = $('w-stock'); stock.innerHTML = '';
  for (const s of w.stock) li(stock, `${s.name}（${s.sku}）：${s.message}`);
  if (!w.stock.length) li(stock, '库存充足');
  const exp = $('w-expiry'); exp.innerHTML = '';
  for (const b of w.near_expiry) {
    const btn = document.createElement('button');
    btn.className = 'secondary'; btn.textContent = '一键促销：' + b.suggestion.label;
    btn.addEventListener('click', () => applyPromo(b.batch_id, btn));
    li(exp, `${b.sku} 批次 ${b.batch_id}：${b.suggestion.reason}`, btn);
  }
  if (!w.near_expiry.length) li(exp, '没有临期批次');
  const ab = $('w-abnormal'); ab.innerHTML = '';
  for (const a of w.abnormal_orders) li(ab, `${a.kind} ${a.day}：${a.detail}`);
  if (!w.abnormal_orders.length) li(ab, '近7天没有异常订单');
  drawChurn(w);
}

function drawChurn(w) {
  const ch = $('w-churn'); ch.innerHTML = '';
  if (w.churn_pending || !w.churn) { li(ch, '正在计算客户分层…'); return; }
  for (const c of w.churn.slice(0, 6)) li(ch, `${c.buyer_id.slice(0, 12)}…（${c.segment}）${c.recency_days}天未购，通常${c.interval_days}天复购`);
  if (!w.churn.length) li(ch, '暂无流失风险客户');
  else if (w.churn_total > 6) li(ch, `共 ${w.churn_total} 位，详见数据分析中心`);
}

async function applyPromo(batchId, btn) {
  btn.disabled = true;
  try {
    const res = await fetch('/api/analytics/promotions/' + encodeURIComponent(batchId) + '/apply', { method: 'POST' });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.detail || res.status);
    $('w-msg').className = 'msg';
    $('w-msg').textContent = `已创建优惠券 ${body.coupon.code}（${body.suggestion.label}）`;
  } catch (e) {
    $('w-msg').className = 'msg err';
    $('w-msg').textContent = '创建失败：' + e.message;
    btn.disabled = false;
  }
}

function drawLive(snap) {
  const tb = $('live-rooms');
  tb.innerHTML = '';
  const rows = snap.rooms.concat([snap.total]);
  for (const r of rows) {
    const tr = document.createElement('tr');
    const cells = [r.room_id, r.online, r.peak_online, r.views, r.avg_watch_s + '秒', pct(r.interaction_rate), yuan(r.gmv), yuan(r.paid_gmv), pct(r.conversion), yuan(r.uv_value), yuan(r.gpm), yuan(r.aov)];
    for (const v of cells) { const td = document.createElement('td'); td.textContent = v; tr.appendChild(td); }
    tb.appendChild(tr);
  }
  const segs = {};
  for (const r of snap.rooms) for (const [k, v] of Object.entries(r.by_segment || {})) segs[k] = (segs[k] || 0) + v.paid_gmv;
  const names = Object.keys(segs);
  if (!names.length) empty('c-segments', '今天还没有直播间订单');
  else plot('c-segments', [{ type: 'bar', x: names, y: names.map((n) => segs[n]), marker: { color: '#e64a19' } }], { yaxis: { title: { text: '支付GMV（元）' } } });
}

function connectLive() {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/dashboard/live');
  ws.onopen = () => { $('live-state').textContent = '实时'; };
  ws.onmessage = (ev) => { const snap = JSON.parse(ev.data); drawLive(snap); window.__liveUpdates = (window.__liveUpdates || 0) + 1; };
  ws.onclose = () => { $('live-state').textContent = '已断开，重连中…'; setTimeout(connectLive, 3000); };
}

async function dashboard() {
  // Fetched from the page head while plotly.js was still loading.
  const s = await (window.__summary || getJSON('/api/dashboard/summary'));
  drawWarnings(s.warnings);
  showKpis(s);
  drawLive(s.live);
  // today is still under way: its partial day would end the trend in a cliff
  const today = chinaToday();
  await drawTrend('c-trend', s.trend.rows.filter((r) => r.period !== today), 'day');
  const note = $('trend-note'); if (note) note.textContent = '（不含今天，今天还没过完）';
  await drawBars('c-products', s.products.rows, (r) => r.name, (r) => r.paid_gmv);
  await drawBars('c-regions', s.regions.rows.slice(0, 15), (r) => r.name, (r) => r.paid_gmv);
  connectLive();
  // after the first screen: the churn list (when the customer report was still being
  // computed) and the daily report are not on the first paint's path
  if (s.warnings.churn_pending) getJSON('/api/dashboard/warnings').then(drawChurn).then(() => { window.__churnShown = true; }).catch(() => {});
  else window.__churnShown = true;
  dailyCard();
  // the cards follow the day: re-read them every 30 s instead of only on reload
  setInterval(() => getJSON('/api/dashboard/summary').then(showKpis).catch(() => {}), 30000);
}

const changeText = (c) => (c === null || c === undefined) ? '—' : ((c >= 0 ? '+' : '') + (c * 100).toFixed(1) + '%');

async function dailyCard() {
  const head = $('daily-head');
  if (!head) return;
  try {
    const r = await getJSON('/api/analytics/daily-report');
    $('daily-day').textContent = `${r.day}（星期${r.weekday}）`;
    $('daily-html').href = '/api/analytics/daily-report.html?day=' + encodeURIComponent(r.day);
    const f = r.figures;
    head.className = 'small';
    head.textContent = r.empty ? '这一天没有订单。'
      : `支付GMV ${yuan(f.paid_gmv.value)}（较前一天 ${changeText(f.paid_gmv.vs_prev_day)}，较上周同日 ${changeText(f.paid_gmv.vs_last_week)}），订单 ${f.orders.value}，客单价 ${yuan(f.aov.value)}，退款 ${yuan(f.refund.value)}`;
    const top = $('daily-top'); top.innerHTML = '';
    for (const p of r.top_products) li(top, `${p.name}：${p.paid_units}件，${yuan(p.paid_gmv)}`);
    if (!r.top_products.length) li(top, '没有成交');
    const ss = $('daily-sessions'); ss.innerHTML = '';
    for (const x of r.sessions) li(ss, `${x.started}–${x.ended} ${x.title || x.room_id}：最高在线${x.peak_viewers}，订单${x.orders}，${yuan(x.gmv)}`);
    if (!r.sessions.length) li(ss, '这一天没有开播');
    const ac = $('daily-actions'); ac.innerHTML = '';
    for (const a of r.actions) li(ac, a);
    if (!r.actions.length) li(ac, '没有需要处理的预警');
    window.__dailyShown = r.day;
  } catch (e) {
    head.className = 'small msg err';
    head.textContent = '日报暂不可用：' + e.message;
    window.__dailyShown = 'error';
  }
}

function chinaToday() {
  return new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' });
}

function showKpis(s) {
  if (s.kpis_today.orders) kpiCards(s.kpis_today, '今天（北京时间）');
  else kpiCards(s.kpis_30d, '近30天（今天还没有订单）');
  window.__kpiUpdates = (window.__kpiUpdates || 0) + 1;
}

// -- 数据分析中心 ---------------------------------------------------------------------------------
function query() {
  const p = new URLSearchParams();
  if ($('f-start').value) p.set('start', $('f-start').value);
  if ($('f-end').value) p.set('end', $('f-end').value);
  return p;
}

function table(id, head, rows) {
  const t = $(id);
  t.innerHTML = '';
  const tr = document.createElement('tr');
  for (const h of head) { const th = document.createElement('th'); th.textContent = h; tr.appendChild(th); }
  t.appendChild(tr);
  if (!rows.length) { const r = document.createElement('tr'); const td = document.createElement('td'); td.colSpan = head.length; td.className = 'muted'; td.textContent = '暂无数据'; r.appendChild(td); t.appendChild(r); }
  for (const row of rows) {
    const r = document.createElement('tr');
    for (const v of row) { const td = document.createElement('td'); td.textContent = v === null || v === undefined ? '—' : v; r.appendChild(td); }
    t.appendChild(r);
  }
}

const drillState = [];
async function drill(year, month) {
  const p = new URLSearchParams();
  if (year) p.set('year', year);
  if (month) p.set('month', month);
  const d = await getJSON('/api/analytics/drill?' + p);
  $('drill-path').textContent = year ? (month ? `${year}年${month}月（按日）` : `${year}年（点击月份下钻）`) : '全部年份（点击柱子下钻）';
  $('drill-up').hidden = !year;
  if (!d.rows.length) return empty('c-drill', '暂无订单');
  await plot('c-drill', [{ type: 'bar', x: d.rows.map((r) => r.period), y: d.rows.map((r) => r.paid_gmv), marker: { color: '#aa3c28' }, customdata: d.rows.map((r) => r.start) }], { xaxis: { type: 'category' }, yaxis: { title: { text: '支付GMV（元）' } } });
  const el = $('c-drill');
  el.removeAllListeners && el.removeAllListeners('plotly_click');
  el.on('plotly_click', (ev) => {
    const start = ev.points[0].customdata;
    if (d.level === 'year') { drillState.push([year, month]); drill(Number(start.slice(0, 4))); }
    else if (d.level === 'month') { drillState.push([year, month]); drill(Number(start.slice(0, 4)), Number(start.slice(5, 7))); }
  });
}

async function forecast() {
  const sku = $('fc-sku').value;
  if (!sku) return empty('c-forecast', '没有商品');
  const f = await getJSON(`/api/analytics/forecast/${encodeURIComponent(sku)}?horizon=${$('fc-h').value}`);
  if (f.empty || !f.forecast) { $('fc-metrics').textContent = ''; return empty('c-forecast', '该商品还没有销售记录'); }
  const fc = f.forecast;
  await plot('c-forecast', [
    { type: 'scatter', mode: 'lines', name: '实际销量', x: f.history.days, y: f.history.units, line: { color: '#555' } },
    { type: 'scatter', mode: 'lines', name: `预测区间下限（${fc.level * 100}%）`, x: fc.days, y: fc.lower, line: { width: 0 }, showlegend: false },
    { type: 'scatter', mode: 'lines', name: `预测区间（${fc.level * 100}%）`, x: fc.days, y: fc.upper, fill: 'tonexty', fillcolor: 'rgba(230,74,25,.2)', line: { width: 0 } },
    { type: 'scatter', mode: 'lines', name: '预测', x: fc.days, y: fc.mean, line: { color: '#e64a19' } },
  ], { yaxis: { title: { text: '件/天' } } });
  const b = f.backtest;
  $('fc-metrics').textContent = b && b.model ? `回测（${b.origins}个滚动起点，预测${b.horizon}天）：模型 MASE ${b.model.mase}、WAPE ${pct(b.model.wape)}；季节性朴素法 MASE ${b.naive.mase}、WAPE ${pct(b.naive.wape)}。${gainText(b.gain)}模型：${fc.model}` : '历史太短，无法回测';
}

// Where the model beats seasonal naive: holiday weeks (春节、双11、国庆) against the rest,
// measured in the same backtest. Said plainly, so that a merchant does not expect the same
// gain in an ordinary week.
function gainText(g) {
  if (!g) return '';
  const h = g.holiday, o = g.ordinary;
  const wape = (x) => `模型 WAPE ${pct(x.model_wape)}，朴素法 ${pct(x.naive_wape)}`;
  if (!h.weeks) return `回测的${o.weeks}周里没有节假日周（${wape(o)}）。`;
  const ordinary = o.weeks ? `平常周（${o.weeks}周）${wape(o)}` : '没有平常周';
  if (g.holiday_share === null) return `模型没有比朴素法更准：节假日周（${h.weeks}周）${wape(h)}；${ordinary}。`;
  const share = Math.round(g.holiday_share * 100);
  const lead = g.holiday_share >= 0.5 ? `比季节性朴素法的提升主要来自节假日周：${h.weeks}个节假日周贡献了减少误差的${share}%` : `比季节性朴素法的提升主要来自平常周：节假日周（${h.weeks}周）只贡献了减少误差的${share}%`;
  return `${lead}（节假日周${wape(h)}；${ordinary}）。`;
}

async function analytics() {
  const q = query();
  const grain = $('f-grain').value;
  $('f-msg').textContent = '';
  const [k, se, pr, rg, rm, fu] = await Promise.all([
    getJSON('/api/analytics/kpis?' + q), getJSON(`/api/analytics/series?${q}&grain=${grain}`),
    getJSON('/api/analytics/products?' + q), getJSON('/api/analytics/regions?' + q),
    getJSON('/api/analytics/rooms?' + q), getJSON('/api/analytics/funnel?' + q),
  ]);
  if (k.range.empty) $('f-msg').textContent = '开始日期晚于结束日期：没有数据';
  kpiCards(k);
  await drawTrend('c-series', se.rows, grain);
  await drawBars('c-products', pr.rows, (r) => r.name, (r) => r.paid_gmv);
  await drawBars('c-rooms', rm.rows, (r) => `${r.room_id}·${r.persona}`, (r) => r.paid_gmv);
  await drawBars('c-regions', rg.rows.slice(0, 20), (r) => r.name, (r) => r.paid_gmv);
  if (rg.heat && rg.heat.provinces.length) await plot('c-heat', [{ type: 'heatmap', x: rg.heat.months, y: rg.heat.provinces, z: rg.heat.values, colorscale: 'YlOrRd', colorbar: { title: { text: '元' } } }], { margin: { l: 70, r: 10, t: 10, b: 40 }, yaxis: { autorange: 'reversed' } });
  else empty('c-heat');
  if (!fu.stages[0].value && !fu.stages[2].value) empty('c-funnel');
  else await drawFunnel(fu.stages);
}

// The funnel as bars (the page's plotly bundle has no funnel trace): each stage with its
// share of the stage before it.
function drawFunnel(stages) {
  const text = stages.map((st, i) => i && stages[i - 1].value ? `${st.value.toLocaleString('zh-CN')}（上一步的${(st.value / stages[i - 1].value * 100).toFixed(1)}%）` : st.value.toLocaleString('zh-CN'));
  return plot('c-funnel', [{ type: 'bar', orientation: 'h', y: stages.map((st) => st.stage), x: stages.map((st) => st.value), text, textposition: 'auto', hoverinfo: 'y+text', marker: { color: ['#f4a582', '#e9967a', '#e64a19', '#aa3c28'] } }], { margin: { l: 80, r: 10, t: 10, b: 20 }, yaxis: { autorange: 'reversed' } });
}

async function analyticsStatic() {
  const [c, p, r, products] = await Promise.all([
    getJSON('/api/analytics/customers'), getJSON('/api/analytics/prices'), getJSON('/api/analytics/rules'), getJSON('/api/shop/products'),
  ]);
  const segs = c.segments.filter((s) => s.customers);
  if (!segs.length) empty('c-rfm', '还没有已支付的客户');
  else await plot('c-rfm', [{ type: 'bar', x: segs.map((s) => s.segment), y: segs.map((s) => s.customers), text: segs.map((s) => s.advice), hovertemplate: '%{x}: %{y}人<br>%{text}<extra></extra>', marker: { color: '#aa3c28' } }], { yaxis: { title: { text: '客户数' } } });
  if (!c.interval_hist.counts.some((n) => n)) empty('c-repurchase', '还没有复购客户');
  else await plot('c-repurchase', [{ type: 'bar', x: c.interval_hist.labels, y: c.interval_hist.counts, marker: { color: '#4c72b0' } }], { xaxis: { type: 'category' }, yaxis: { title: { text: '客户数' } } });
  crmSegments(segs.map((s) => s.segment).concat(['流失风险客户']));
  table('t-churn', ['客户', '省份', '分层', '订单', '消费', '未购天数', '复购间隔'], c.churn_risk.slice(0, 20).map((x) => [x.buyer_id.slice(0, 14), x.province, x.segment, x.orders, yuan(x.monetary), x.recency_days, x.interval_days]));
  table('t-prices', ['商品', '现价', '弹性', 'R²', '建议区间', '销量变化', '销售额变化', '说明'], p.items.map((x) => [x.name, yuan(x.price), x.elasticity, x.r2, x.band_low ? `${yuan(x.band_low)}–${yuan(x.band_high)}` : '—', x.units_change === null ? '—' : pct(x.units_change), x.revenue_change === null ? '—' : pct(x.revenue_change), x.note]));
  table('t-rules', ['买了', '也买', '支持度', '置信度', '提升度'], r.slice(0, 15).map((x) => [x.antecedent_name, x.consequent_name, pct(x.support), pct(x.confidence), x.lift]));
  const sel = $('fc-sku');
  sel.innerHTML = '';
  for (const prod of products) { const o = document.createElement('option'); o.value = prod.sku; o.textContent = prod.name || prod.title || prod.sku; sel.appendChild(o); }
  await forecast();
}

function crmSegments(names) {
  const sel = $('crm-seg');
  if (!sel || sel.options.length) return;
  for (const n of names) { const o = document.createElement('option'); o.value = n; o.textContent = n; sel.appendChild(o); }
  const csv = () => { $('crm-csv').href = `/api/analytics/segments/${encodeURIComponent(sel.value)}/members.csv`; };
  sel.addEventListener('change', csv); csv();
  $('crm').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = $('crm-msg');
    try {
      const res = await fetch(`/api/analytics/segments/${encodeURIComponent(sel.value)}/coupon`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ kind: $('crm-kind').value, value: Number($('crm-value').value), days: Number($('crm-days').value) }),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(typeof body.detail === 'string' ? body.detail : '请检查输入');
      msg.className = 'msg';
      msg.textContent = `已给「${body.segment}」的 ${body.buyers} 位客户发券 ${body.coupon.code}，只有他们能用`;
    } catch (e) { msg.className = 'msg err'; msg.textContent = '发券失败：' + e.message; }
  });
}

// Every order of the range, counted by day and amount band on the server (a few kB for a
// year), drawn after the first screen.
async function orderCloud() {
  const d = await getJSON('/api/analytics/orders/bins?' + query());
  $('orders-n').textContent = `共 ${d.total.toLocaleString('zh-CN')} 单（全部订单，按天和金额区间计数）`;
  if (!d.total) { empty('c-orders', '所选时间内没有订单'); window.__ordersPlotted = 0; window.__cloudReady = true; return; }
  await plot('c-orders', [{ type: 'heatmap', x: d.days, y: d.bands, z: d.counts, colorscale: 'YlOrRd', hovertemplate: '%{x} %{y}: %{z}单<extra></extra>', colorbar: { title: { text: '单' } } }], { margin: { l: 80, r: 10, t: 10, b: 40 }, yaxis: { type: 'category', title: { text: '订单金额' } } });
  window.__ordersPlotted = d.total;
  window.__cloudReady = true;
}

async function main() {
  const page = document.body.dataset.page;
  try {
    if (page === 'dashboard') await dashboard();
    else {
      $('filters').addEventListener('submit', (ev) => { ev.preventDefault(); analytics().then(() => orderCloud()).catch(showError); });
      $('drill-up').addEventListener('click', () => { const [y, m] = drillState.pop() || []; drill(y, m).catch(showError); });
      $('fc-sku').addEventListener('change', () => forecast().catch(showError));
      $('fc-h').addEventListener('change', () => forecast().catch(showError));
      await Promise.all([analytics(), drill(), analyticsStatic()]);
      window.__dashReady = true;  // the first screen is drawn; the order cloud follows
      await orderCloud();
      return;
    }
    window.__dashReady = true;
  } catch (e) { showError(e); }
}

function showError(e) {
  const el = $('f-msg') || $('w-msg');
  if (el) { el.className = 'msg err'; el.textContent = '加载失败：' + e.message; }
  window.__dashError = String(e && e.message);
}

main();
