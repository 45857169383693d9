// 直播中控台: the room over WHEP, danmaku with their sentiment, the room's figures, and the
// farmer's actions (主播说, answer mode, 讲解, 秒杀). Requests carry the session's CSRF token
// (auth.js wraps fetch); every text from the server is shown as text, never as markup.
(function () {
  const root = document.getElementById('console');
  const room = root.dataset.room;
  const enc = encodeURIComponent(room);
  const $ = (id) => document.getElementById(id);
  const MOOD = { calm: '平静', happy: '开心', excited: '火热', upset: '有点不满' };
  const SENT = { pos: '正面', neu: '中性', neg: '负面' };
  const INTENT = { question: '提问', complaint: '投诉', purchase: '下单', praise: '夸奖', greeting: '打招呼', spam: '刷屏', other: '' };
  const MAX_ROWS = 80;
  window.consoleLines = []; // the lines the host started, newest last (tests read it)
  window.consoleTimes = {}; // ms since navigation: first figures, first video frame (bench)

  function say(el, text, err) { el.textContent = text; el.className = err ? 'msg err' : 'msg'; }
  async function api(path, options) {
    const res = await fetch(path, options);
    let data = {};
    try { data = await res.json(); } catch (e) { /* empty body */ }
    return { ok: res.ok, status: res.status, data };
  }
  const post = (path, body) => api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const detail = (r) => (typeof r.data.detail === 'string' ? r.data.detail : `请求失败（${r.status}）`);

  // --- the picture ----------------------------------------------------------------------
  const video = $('video');
  const status = $('lc-status');
  const STATUS = { connecting: '连接中…', connected: '直播中', retrying: '正在重连…', offline: '未开播' };
  if (root.dataset.orientation === 'portrait') root.classList.add('portrait');
  video.addEventListener('loadeddata', () => { window.consoleTimes.video = performance.now(); }, { once: true });
  // the peer connection is the page's heaviest task: start it once the page has painted and
  // settled (after load, when the main thread is idle, at most 1 s later)
  const startVideo = () => window.whep.play(`/api/rooms/${enc}/whep`, video, (s) => { status.textContent = STATUS[s] || s; }, { lazyAudio: true });
  let player = null;
  const idle = window.requestIdleCallback || ((f) => setTimeout(f, 1));
  const afterLoad = () => idle(() => { player = startVideo(); }, { timeout: 1000 });
  if (document.readyState === 'complete') afterLoad(); else window.addEventListener('load', afterLoad, { once: true });
  $('unmute').onclick = () => { video.muted = !video.muted; video.play().catch(() => {}); $('unmute').textContent = video.muted ? '开声音' : '静音'; };

  // --- figures: one snapshot, polled, and refreshed on the events that change it ---------
  function showMood(label) {
    const el = $('f-mood');
    el.textContent = MOOD[label] || label || '—';
    el.className = 'mood-' + (label || 'calm');
  }
  function showMode(m) {
    if (!m) return;
    const names = { spoken: '语音回答', text: '只发文字', muted: '暂停回答' };
    const left = m.seconds_left ? `（还剩 ${Math.ceil(m.seconds_left / 60)} 分钟）` : '';
    $('mode-now').textContent = '当前：' + (names[m.mode] || m.mode) + left;
  }
  function answerItem(a) {
    const li = document.createElement('li');
    const q = document.createElement('span'); q.className = 'q'; q.textContent = '问：' + a.question;
    const t = document.createElement('span'); t.className = 'a'; t.textContent = (a.handed_off ? '转人工：' : '答：') + a.text;
    li.append(q, t);
    return li;
  }
  let refreshing = null;
  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      const r = await api(`/api/rooms/${enc}/console`);
      if (!r.ok) { if (r.status === 404) status.textContent = '直播已结束'; return; }
      const d = r.data;
      if (!window.consoleTimes.figures) window.consoleTimes.figures = performance.now();
      $('f-viewers').textContent = d.viewers;
      $('f-gmv').textContent = '¥' + d.session.gmv;
      $('f-orders').textContent = d.session.orders;
      $('f-product').textContent = d.current_product || '—';
      $('f-tickets').textContent = d.tickets_open;
      if (d.mood) showMood(d.mood.label);
      showMode(d.answer_mode);
      const ul = $('answers');
      ul.replaceChildren(...(d.last_answers || []).slice().reverse().map(answerItem));
    })().finally(() => { refreshing = null; });
    return refreshing;
  }
  refresh();
  setInterval(refresh, 5000);

  // --- danmaku and the host's lines over the room's events socket ----------------------------
  function danmaku(ev) {
    const ul = $('danmaku');
    const li = document.createElement('li');
    li.className = 'dm s-' + (ev.sentiment || 'neu') + (ev.intent ? ' i-' + ev.intent : '');
    const who = document.createElement('b'); who.textContent = (ev.nickname || '观众') + '：';
    const text = document.createElement('span'); text.textContent = ev.text;
    const tag = document.createElement('small');
    tag.textContent = [SENT[ev.sentiment] || '', INTENT[ev.intent] || ''].filter(Boolean).join('·');
    li.append(who, text, tag);
    ul.appendChild(li);
    while (ul.children.length > MAX_ROWS) ul.firstChild.remove();
    ul.scrollTop = ul.scrollHeight;
  }
  function connect() {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/api/rooms/${enc}/events`);
    ws.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (ev.type === 'danmaku') danmaku(ev);
      else if (ev.type === 'mood') showMood(ev.label);
      else if (ev.type === 'line') {
        window.consoleLines.push({ kind: ev.kind, text: ev.text });
        if (window.consoleLines.length > 50) window.consoleLines.shift();
        $('caption').textContent = ev.text;
        $('caption').className = 'lc-caption k-' + ev.kind;
      } else if (ev.type === 'answer' || ev.type === 'viewer_joined' || ev.type === 'viewer_left') refresh();
      else if (ev.type === 'shop' && ['stock_changed', 'order_paid', 'product_pinned'].includes(ev.kind)) refresh();
      else if (ev.type === 'room_started' && player) player.restart();
      else if (ev.type === 'room_stopped') status.textContent = '直播已结束';
    };
    ws.onclose = () => setTimeout(connect, 3000);
  }
  connect();

  // --- 主播说 ----------------------------------------------------------------------------
  $('takeover-form').onsubmit = async (e) => {
    e.preventDefault();
    const msg = $('takeover-msg'); const reasons = $('takeover-reasons');
    const text = $('takeover-text').value.trim();
    reasons.replaceChildren();
    if (!text) { say(msg, '请输入要主播说的话', true); return; }
    $('takeover-send').disabled = true;
    try {
      const r = await post(`/api/rooms/${enc}/takeover`, { text });
      if (r.ok) {
        say(msg, '主播马上说：' + r.data.text);
        $('takeover-text').value = '';
      } else {
        say(msg, r.status === 422 && r.data.reasons ? '没有播出，原因：' : detail(r), true);
        for (const reason of (r.status === 422 && r.data.reasons) || []) {
          const li = document.createElement('li'); li.textContent = reason; reasons.appendChild(li);
        }
      }
    } catch (err) { say(msg, '网络不稳定，请重试', true); }
    $('takeover-send').disabled = false;
  };

  // --- answer mode ------------------------------------------------------------------------
  $('mode-set').onclick = async () => {
    const mode = $('mode').value;
    const minutes = $('mode-minutes').value ? parseInt($('mode-minutes').value, 10) : null;
    const r = await post(`/api/rooms/${enc}/answer-mode`, { mode, minutes: mode === 'spoken' ? null : minutes });
    if (r.ok) { showMode(r.data); say($('mode-msg'), '已设置'); } else say($('mode-msg'), detail(r), true);
  };

  // --- 讲解 and 秒杀: the shop's own API --------------------------------------------------------
  (async () => {
    const r = await api(`/api/shop/rooms/${enc}/products`);
    if (!r.ok) return;
    const sel = $('op-sku');
    for (const p of r.data) {
      const o = document.createElement('option');
      o.value = p.sku; o.textContent = `${p.title}（¥${p.price}，库存 ${p.stock}）`;
      sel.appendChild(o);
    }
  })();
  async function operate(path, body, done) {
    const r = await post(`/api/shop/rooms/${enc}/${path}`, body);
    say($('op-msg'), r.ok ? done : '失败：' + detail(r), !r.ok);
    if (r.ok) refresh();
  }
  $('pin').onclick = () => operate('pin', { sku: $('op-sku').value }, '已置顶，主播马上讲这个商品');
  $('flash').onclick = () => operate('flash-sales', {
    sku: $('op-sku').value,
    price: $('fs-price').value.trim(),
    quantity: parseInt($('fs-qty').value, 10),
    duration_s: parseInt($('fs-min').value, 10) * 60,
  }, '秒杀已开始！');
})();
