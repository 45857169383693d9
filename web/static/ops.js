// Ops desk (运维台): one WebSocket, read-only. Rooms, outputs, machine and workers, alerts.
(function () {
  const SPARK = 360; // one hour at one point every 10 s
  const spark = { machine: {}, rooms: {} };
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const num = (x, d) => (x == null || isNaN(x) ? '—' : Number(x).toFixed(d == null ? 1 : d));
  const MOOD = { excited: '兴奋', happy: '开心', positive: '积极', neutral: '平稳', calm: '平稳', negative: '不满', angry: '愤怒', upset: '不满' };
  const RULES = { fps_low: '帧率过低', room_stalled: '画面停滞', backend_failing: '后端故障', error_rate: '错误率', disk_low: '磁盘不足', payments_silent: '支付回调', worker_restarted: '进程重启' };

  function push(series, key, value) {
    const arr = series[key] || (series[key] = []);
    arr.push(value);
    while (arr.length > SPARK) arr.shift();
  }

  function svg(values) {
    const vs = (values || []).map((v) => (v == null ? null : Number(v)));
    const ok = vs.filter((v) => v != null && !isNaN(v));
    if (ok.length < 2) return '<svg class="spark"></svg>';
    const max = Math.max(...ok, 1e-9), min = Math.min(...ok, 0);
    const w = 120, h = 24, n = vs.length;
    const pts = vs.map((v, i) => (v == null ? null : `${(i * w / Math.max(n - 1, 1)).toFixed(1)},${(h - 2 - (v - min) / (max - min || 1) * (h - 4)).toFixed(1)}`)).filter(Boolean).join(' ');
    return `<svg class="spark" viewBox="0 0 ${w} ${h}" preserveAspectRatio="none"><polyline points="${pts}"/></svg>`;
  }

  function renderMachine(m, workers) {
    if (!m) return;
    const items = [
      ['CPU', `${num(m.cpu)}%`, 'cpu', m.cpu > 90],
      ['内存', `${num(m.mem)}%`, 'mem', m.mem > 90],
      ['网络 收/发', `${num(m.net_rx_kbps, 0)} / ${num(m.net_tx_kbps, 0)} kb/s`, null, false],
      ['磁盘剩余', `${num(m.disk_free_pct)}%`, null, m.disk_free_pct != null && m.disk_free_pct < 10],
      ['事件循环延迟', `${num(m.loop_lag_ms)} ms`, 'loop_lag_ms', m.loop_lag_ms > 100],
    ];
    $('machine').innerHTML = items.map(([label, value, key, bad]) =>
      `<div class="gauge"><span>${label}</span><b class="${bad ? 'bad' : ''}" data-k="${key || ''}">${esc(value)}</b>${key ? svg(spark.machine[key]) : ''}</div>`).join('');
    $('workers').innerHTML = (workers || []).map((w) => `<tr><td>${w.id === 'main' ? '网页进程' : '工作进程 ' + esc(w.id)}</td><td>${esc(w.pid)}</td>`
      + `<td class="${w.up ? '' : 'bad'}">${w.up ? '运行中' : '已停止'}</td><td>${num(w.cpu)}%</td><td>${num(w.rss_mb, 0)} MB</td>`
      + `<td>${w.loop_lag_ms == null ? '—' : num(w.loop_lag_ms) + ' ms'}</td><td>${w.rooms == null ? '—' : esc(w.rooms)}</td></tr>`).join('');
  }

  function renderRooms(rooms) {
    $('rooms').innerHTML = (rooms || []).map((r) => {
      const s = spark.rooms[r.room_id] || {};
      const slow = r.fps < (r.fps_target || 25) * 0.88;
      const outs = (r.outputs || []).map((o) => `${esc(o.name)}：${num(o.kbps, 0)} kb/s${o.viewers == null ? '' : ' · ' + esc(o.viewers) + ' 人'}${o.state && o.state !== 'live' ? ' <span class="bad">' + esc(o.state) + '</span>' : ''}`).join('<br>');
      const mood = r.mood || {};
      return `<tr data-room="${esc(r.room_id)}"><td><b>${esc(r.title)}</b><br><small>${esc(r.room_id)} · ${r.worker === 'main' ? '网页进程' : '工作进程 ' + esc(r.worker)}</small></td>`
        + `<td class="fps ${slow ? 'bad' : ''}">${num(r.fps)}<br>${svg(s.fps)}</td>`
        + `<td class="${r.late_frames ? 'bad' : ''}">${esc(r.late_frames)}</td>`
        + `<td>${num(r.render_ms)} / ${num(r.encode_ms)} ms</td>`
        + `<td>${outs}<br>${svg(s.viewers)}</td>`
        + `<td>${r.onset_s == null ? '—' : num(r.onset_s, 2) + ' 秒'}</td>`
        + `<td class="${r.tts_fallbacks + r.llm_fallbacks ? 'bad' : ''}">${esc(r.tts_fallbacks)} / ${esc(r.llm_fallbacks)}</td>`
        + `<td>${num(r.danmaku_per_min, 0)} 条/分</td>`
        + `<td>${esc(MOOD[mood.label] || mood.label || '—')} ${mood.score == null ? '' : '(' + num(mood.score, 2) + ')'}</td>`
        + `<td>${esc(r.blocked)}</td>`
        + `<td class="gmv">¥${(Number(r.gmv_fen || 0) / 100).toFixed(2)}</td></tr>`;
    }).join('') || '<tr><td colspan="11" class="hint">没有正在直播的直播间</td></tr>';
  }

  function renderAlerts(active) {
    const box = $('alerts');
    if (!active || !active.length) { box.innerHTML = '<p class="hint">暂无告警</p>'; return; }
    box.innerHTML = active.map((a) => `<div class="alert ${esc(a.severity)}" data-rule="${esc(a.rule)}"><b>${esc(a.title || RULES[a.rule] || a.rule)}</b> · ${esc(a.subject)}<br>${esc(a.message)}<br><small>触发于 ${esc(a.fired_at)}</small></div>`).join('');
  }

  function renderHistory(rows) {
    $('alert-history').innerHTML = (rows || []).map((a) => `<tr><td>${esc(RULES[a.rule] || a.rule)}</td><td>${esc(a.subject)}</td><td>${esc(a.message)}</td>`
      + `<td>${esc(a.fired_at)}</td><td>${esc(a.resolved_at || '未恢复')}</td><td>${esc(a.delivered)}/${esc(a.attempts)}${a.last_error ? ' <span class="bad">' + esc(a.last_error) + '</span>' : ''}</td></tr>`).join('');
  }

  function apply(u, appendSpark) {
    if (!u) return;
    if (appendSpark) {
      for (const k of ['cpu', 'mem', 'loop_lag_ms']) push(spark.machine, k, u.machine[k]);
      for (const r of u.rooms) {
        const s = spark.rooms[r.room_id] || (spark.rooms[r.room_id] = {});
        for (const k of ['fps', 'viewers', 'kbps']) push(s, k, r[k]);
      }
    }
    renderMachine(u.machine, u.workers);
    renderRooms(u.rooms);
    renderAlerts(u.alerts);
    $('state').textContent = `已连接 · 更新于 ${new Date(u.t * 1000).toLocaleTimeString('zh-CN')}`;
  }

  let seenAlerts = '';
  function connect() {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ops/live`);
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === 'hello') {
        const h = msg.history || {};
        spark.machine = h.machine || {};
        spark.rooms = h.rooms || {};
        renderHistory(msg.alerts);
        apply(msg.snapshot, false);
        return;
      }
      if (msg.type === 'update') {
        apply(msg, msg.spark);
        const key = JSON.stringify((msg.alerts || []).map((a) => a.rule + a.subject));
        if (key !== seenAlerts) {
          seenAlerts = key;
          fetch('/api/ops/alerts?limit=30').then((r) => (r.ok ? r.json() : null)).then((d) => d && renderHistory(d.history)).catch(() => {});
        }
      }
    };
    ws.onclose = (ev) => {
      if (ev.code === 4401 || ev.code === 1008 || ev.code === 4403) { $('state').textContent = '无权查看运维台（需要运维或管理员账号）'; return; }
      $('state').textContent = '连接已断开，正在重连…';
      setTimeout(connect, 2000);
    };
  }
  (window.yunlianReady || Promise.resolve({})).then((me) => {
    if (me && me.role && me.role !== 'ops' && me.role !== 'admin') { $('state').textContent = '无权查看运维台（需要运维或管理员账号）'; return; }
    connect();
  });
})();
