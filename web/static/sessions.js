// 场次复盘: the shop's past sessions, and one session's minutes as aligned curves with the
// script segments on air as bands. Text goes in with textContent, never as markup.
'use strict';

const $ = (id) => document.getElementById(id);
const yuan = (v) => '¥' + Number(v || 0).toLocaleString('zh-CN', { maximumFractionDigits: 2 });
const BAND_COLORS = ['rgba(230,74,25,.10)', 'rgba(76,114,176,.12)', 'rgba(85,168,104,.12)', 'rgba(196,78,82,.10)', 'rgba(129,114,178,.12)'];

async function getJSON(url) {
  const res = await fetch(url);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(typeof body.detail === 'string' ? body.detail : ('请求失败 ' + res.status));
  return body;
}

function local(iso) {
  return iso ? new Date(iso).toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false }) : '直播中';
}

function table(el, head, rows, onClick) {
  el.innerHTML = '';
  const tr = document.createElement('tr');
  for (const h of head) { const th = document.createElement('th'); th.textContent = h; tr.appendChild(th); }
  el.appendChild(tr);
  if (!rows.length) { const r = document.createElement('tr'); const td = document.createElement('td'); td.colSpan = head.length; td.className = 'muted'; td.textContent = '还没有直播场次'; r.appendChild(td); el.appendChild(r); }
  rows.forEach((row, i) => {
    const r = document.createElement('tr');
    for (const v of row) { const td = document.createElement('td'); td.textContent = v === null || v === undefined ? '—' : v; r.appendChild(td); }
    if (onClick) { r.style.cursor = 'pointer'; r.tabIndex = 0; r.addEventListener('click', () => onClick(i)); r.addEventListener('keydown', (e) => { if (e.key === 'Enter') onClick(i); }); }
    el.appendChild(r);
  });
}

async function showList() {
  const d = await getJSON('/api/sessions?limit=100');
  const rows = d.sessions;
  table($('t-sessions'), ['开播', '下播', '直播间', '主播', '分钟', '最高在线', '进入人次', '人均观看', '弹幕', '订单', 'GMV'],
    rows.map((s) => [local(s.started_at), s.live ? '直播中' : local(s.ended_at), s.title || s.room_id, s.persona, s.minutes, s.peak_viewers, s.entries, s.avg_watch_s + '秒', s.danmaku, s.orders, yuan(s.gmv)]),
    (i) => { history.replaceState(null, '', '?id=' + encodeURIComponent(rows[i].id)); showReplay(rows[i].id).catch(fail); });
  window.__sessionsListed = rows.length;
  return rows;
}

async function showReplay(id) {
  const d = await getJSON('/api/sessions/' + encodeURIComponent(id));
  const s = d.session, m = d.minutes;
  $('replay').hidden = false;
  $('r-title').textContent = `场次复盘：${s.title || s.room_id}`;
  const unit = s.bucket_s === 60 ? '分钟' : `${s.bucket_s}秒`;
  $('r-meta').textContent = `${local(s.started_at)} 至 ${s.live ? '现在（直播中）' : local(s.ended_at)}，每格 ${unit}；色带为当时在讲的商品（脚本段落）与主播`;
  const x = m.minute;

  const traces = [
    { type: 'scatter', mode: 'lines', name: '在线人数', x, y: m.viewers, line: { color: '#aa3c28' } },
    { type: 'bar', name: '进入人次', x, y: m.entries, yaxis: 'y2', marker: { color: '#f4a582' } },
    { type: 'bar', name: '离开人次', x, y: m.leaves.map((v) => -v), yaxis: 'y2', marker: { color: '#92c5de' } },
    { type: 'scatter', mode: 'lines', name: '观看时长（人·秒）', x, y: m.watch_s, yaxis: 'y3', line: { color: '#4c72b0' } },
    { type: 'bar', name: '弹幕', x, y: m.danmaku, yaxis: 'y4', marker: { color: '#8172b2' } },
    { type: 'scatter', mode: 'lines', name: '情绪', x, y: m.mood, yaxis: 'y4', line: { color: '#55a868', dash: 'dot' } },
    { type: 'bar', name: '订单', x, y: m.orders, yaxis: 'y5', marker: { color: '#e64a19' } },
    { type: 'scatter', mode: 'lines+markers', name: 'GMV（元）', x, y: m.gmv, yaxis: 'y6', line: { color: '#333' } },
  ];

  const shapes = [], annotations = [];
  d.segments.forEach((b, i) => {
    shapes.push({ type: 'rect', xref: 'x', yref: 'paper', x0: b.start - 0.5, x1: b.end - 0.5, y0: 0, y1: 1, fillcolor: BAND_COLORS[i % BAND_COLORS.length], line: { width: 0 }, layer: 'below' });
    annotations.push({ xref: 'x', yref: 'paper', x: (b.start + b.end - 1) / 2, y: 1.02, showarrow: false, text: (b.product || b.sku || '未标注').slice(0, 12), font: { size: 11 } });
  });
  const layout = {
    margin: { l: 60, r: 60, t: 30, b: 40 }, font: { family: 'Noto Sans CJK SC, sans-serif', size: 12 },
    legend: { orientation: 'h', y: -0.08 }, barmode: 'relative', shapes, annotations, hovermode: 'x unified',
    xaxis: { title: { text: unit }, dtick: x.length > 30 ? undefined : 1 },
    yaxis: { domain: [0.76, 1], title: { text: '在线' } }, yaxis2: { domain: [0.76, 1], overlaying: 'y', side: 'right', title: { text: '进/出' } },
    yaxis3: { domain: [0.52, 0.72], title: { text: '人·秒' } },
    yaxis4: { domain: [0.27, 0.48], title: { text: '弹幕' } },
    yaxis5: { domain: [0, 0.23], title: { text: '订单' } }, yaxis6: { domain: [0, 0.23], overlaying: 'y5', side: 'right', title: { text: '元' } },
  };
  await Plotly.react($('c-replay'), traces, layout, { responsive: true, displaylogo: false });
  table($('t-segments'), ['段落（商品）', '订单', 'GMV', '已支付订单', '支付GMV', '售出件数'],
    d.sales_by_segment.map((g) => [g.product || g.sku, g.orders, yuan(g.gmv), g.paid_orders, yuan(g.paid_gmv), Object.entries(g.units).map(([k, v]) => `${k}×${v}`).join('，')]));
  window.__replayShown = s.id;
}

function fail(e) {
  $('s-msg').className = 'msg err';
  $('s-msg').textContent = '加载失败：' + e.message;
  window.__sessionsError = String(e && e.message);
}

async function main() {
  try {
    const rows = await showList();
    const wanted = new URLSearchParams(location.search).get('id') || (rows[0] && rows[0].id);
    if (wanted) await showReplay(wanted);
    window.__sessionsReady = true;
  } catch (e) { fail(e); }
}

main();
