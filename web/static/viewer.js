// Viewer page: WHEP playback of the room, live captions and product card, buy button.
const roomId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop());
const video = document.getElementById('video');
const statusEl = document.getElementById('status');
const unmute = document.getElementById('unmute');
let sessionUrl = null;
let pc = null;
let currentSku = null;
let roomPersona = null;

function setStatus(text) { statusEl.textContent = text; }

function waitIce(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, ms);
  });
}

// Reconnect by itself: a failed (or long disconnected) peer, or a refused offer while the
// room restarts elsewhere, re-runs WHEP after 1, 2, 4, 8, then every 10 s.
const RETRY_MS = [1000, 2000, 4000, 8000, 10000];
const DISCONNECT_GRACE_MS = 3000;
let attempt = 0;
let generation = 0;
let retryTimer = null;
window.viewerReconnects = 0;

function scheduleRetry() {
  if (retryTimer) return;
  const delay = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
  attempt += 1;
  retryTimer = setTimeout(() => { retryTimer = null; window.viewerReconnects += 1; play(); }, delay);
}

function hangUp() {
  if (janusSession) { janusSession.close(); janusSession = null; }
  if (sessionUrl) { fetch(sessionUrl, { method: 'DELETE' }).catch(() => {}); sessionUrl = null; }
  try { if (pc) pc.close(); } catch (e) { /* already closed */ }
  pc = null;
}

// ICE servers for viewers behind NAT: STUN, and TURN with credentials that expire, fetched
// fresh for each connection. ?ice=relay forces the relay (what a viewer behind symmetric NAT
// ends up using anyway).
const forceRelay = new URLSearchParams(location.search).get('ice') === 'relay';
// ?via=janus: watch through the room's Janus mountpoint (janus-mode.js) instead of WHEP
const viaJanus = new URLSearchParams(location.search).get('via') === 'janus';
let janusSession = null;

async function iceConfig() {
  let servers = [];
  try {
    const res = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/ice-servers`, { cache: 'no-store' });
    if (res.ok) servers = (await res.json()).iceServers || [];
  } catch (e) { /* no TURN: host and STUN candidates still work on most networks */ }
  return { iceServers: servers, iceTransportPolicy: forceRelay ? 'relay' : 'all' };
}

async function play() {
  if (window.hlsMode && window.hlsMode.active) return false; // watching in 省流模式
  const mine = ++generation;
  hangUp();
  const config = await iceConfig();
  if (mine !== generation) return false;
  const peer = pc = new RTCPeerConnection(config);
  const stream = new MediaStream();
  video.srcObject = stream;
  peer.ontrack = (e) => { stream.addTrack(e.track); };
  peer.onconnectionstatechange = () => {
    if (mine !== generation) return;  // an old peer's last words
    const s = peer.connectionState;
    setStatus({ connected: '直播中', connecting: '连接中…', failed: '连接中断，正在重连…', disconnected: '网络不稳定，正在重连…' }[s] || s);
    if (s === 'connected') { attempt = 0; }
    if (s === 'failed') { scheduleRetry(); }
    if (s === 'disconnected') {
      setTimeout(() => {
        if (mine === generation && peer.connectionState === 'disconnected') scheduleRetry();
      }, DISCONNECT_GRACE_MS);
    }
  };
  if (viaJanus && window.janusWatch) {
    try {
      const watching = await window.janusWatch(peer, roomId, () => mine !== generation);
      if (mine !== generation) { if (watching) watching.close(); return false; }
      janusSession = watching;
      return true;
    } catch (e) {
      if (mine !== generation) return false;
      setStatus('暂时无法经 Janus 播放，正在重试');
      scheduleRetry();
      return false;
    }
  }
  peer.addTransceiver('video', { direction: 'recvonly' });
  peer.addTransceiver('audio', { direction: 'recvonly' });
  try {
    await peer.setLocalDescription(await peer.createOffer());
    await waitIce(peer, 2000);
    const res = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/whep`, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: peer.localDescription.sdp,
    });
    if (mine !== generation) return false;
    if (res.status === 503 && window.hlsMode && await window.hlsMode.start('full')) return false;
    if (res.status !== 201) {
      let reason = res.statusText;
      try { reason = (await res.json()).detail; } catch (e) { /* not JSON */ }
      setStatus(res.status === 404 ? '直播间未开播' : '暂时无法播放，正在重试：' + reason);
      scheduleRetry();
      return false;
    }
    sessionUrl = res.headers.get('Location');
    await peer.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    return true;
  } catch (e) {  // the server is unreachable for a moment
    if (mine !== generation) return false;
    setStatus('网络不稳定，正在重连…');
    scheduleRetry();
    return false;
  }
}

unmute.onclick = () => { video.muted = false; video.play(); unmute.style.display = 'none'; };

window.addEventListener('pagehide', () => {
  if (janusSession) janusSession.close();
  if (sessionUrl) fetch(sessionUrl, { method: 'DELETE', keepalive: true });
});

async function showAlsoBought(sku) {
  const box = document.getElementById('also');
  const ul = document.getElementById('also-list');
  try {
    const items = await api(`/api/shop/products/${encodeURIComponent(sku)}/also-bought?k=3`);
    if (sku !== currentSku) return;
    ul.innerHTML = '';
    for (const it of items) {
      const li = document.createElement('li');
      li.textContent = it.name || it.sku;
      ul.appendChild(li);
    }
    box.hidden = items.length === 0;
  } catch (e) { box.hidden = true; }
}

async function showTrace(sku) {
  const link = document.getElementById('p-trace');
  link.hidden = true;
  try {
    const p = await api(`/api/shop/products/${encodeURIComponent(sku)}`);
    if (p.trace_url && sku === currentSku) { link.href = p.trace_url; link.hidden = false; }
  } catch (e) { /* no trace for this product */ }
}

let currentFlash = false;

function showCard(card, sku) {
  if (!card) return;
  if (sku && sku !== currentSku) { showTrace(sku); showAlsoBought(sku); }
  currentSku = sku;
  document.getElementById('p-title').textContent = card.title;
  const soldOut = card.badge === '已售罄';
  currentFlash = Boolean(card.countdown) || (card.lines || []).some((l) => l.includes('秒杀'));
  document.getElementById('p-price').textContent = soldOut ? '已售罄' : '¥' + card.price;
  document.getElementById('p-unit').textContent = soldOut ? '' : '/' + card.unit;
  const ul = document.getElementById('p-lines');
  ul.innerHTML = '';
  for (const l of card.lines) { const li = document.createElement('li'); li.textContent = l; ul.appendChild(li); }
  document.getElementById('buy').disabled = !sku || soldOut;
  document.getElementById('pay').hidden = true;
}

let eventsWs = null;
let myViewerId = null;
const MOOD_LABELS = { calm: '平静', happy: '开心', excited: '火热', upset: '有点不满' };

function connectEvents() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/api/rooms/${encodeURIComponent(roomId)}/events`);
  eventsWs = ws;
  ws.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    if (ev.type === 'hello') {
      document.getElementById('title').textContent = ev.title;
      roomPersona = ev.persona; myViewerId = ev.viewer_id;
      setOrientation(ev.orientation, ev.width, ev.height);
    }
    if (ev.type === 'line') {
      document.getElementById('caption').textContent = ev.text;
      showCard(ev.card, ev.sku);
    }
    if (ev.type === 'room_started') {
      // the room (re)started, e.g. restored after its worker died: its media comes from a
      // new peer, so watch again now rather than wait for ICE to notice the old one is gone
      if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
      attempt = 0; window.viewerReconnects += 1; play();
    }
    if (ev.type === 'shop') onShopEvent(ev);
    if (ev.type === 'danmaku') onDanmaku(ev);
    if (ev.type === 'notice') chatLine(`${ev.nickname} ${ev.text}`, 'notice');
    if (ev.type === 'reply') onReply(ev);
    if (ev.type === 'cs_reply') chatLine(`客服回复你：${ev.text}`, 'reply');
    if (ev.type === 'mood') showMood(ev.label);
    if (ev.type === 'danmaku_ack' && ev.action === 'blocked') {
      // a line only its sender sees (moderation keeps it from everyone else)
      chatLine(`${myNickname()}：${ev.text}`, 'mine');
    }
    if (ev.type === 'danmaku_rejected') chatTell(ev.detail || '发送失败', true);
  };
  ws.onclose = () => { eventsWs = null; setTimeout(connectEvents, 3000); };
}

// --- layout: a portrait room fills a phone's screen, chat and buying float over it -------
const phone = window.matchMedia('(max-width: 767px)');

function setOrientation(orientation, width, height) {
  const portrait = orientation === 'portrait' || (!orientation && height > width);
  document.body.classList.toggle('orient-portrait', portrait);
  document.body.classList.toggle('orient-landscape', !portrait);
  if (width > 0 && height > 0) video.style.aspectRatio = `${width} / ${height}`;
}

function overlayLayout() {
  return phone.matches && document.body.classList.contains('orient-portrait');
}

function openSheet(open) { document.body.classList.toggle('sheet-open', open); }

// on a phone the first tap on 立即购买 opens the order sheet; the next one orders
document.getElementById('buy').addEventListener('click', (e) => {
  if (overlayLayout() && !document.body.classList.contains('sheet-open')) {
    e.preventDefault();
    openSheet(true);
  }
});
document.getElementById('sheet-close').onclick = () => openSheet(false);

// --- danmaku: an overlay drawn by the page (never burned into the stream) and a list ------
const layer = document.getElementById('danmaku-layer');
const MAX_FLYING = 30;
const LANES = 6;
let lane = 0;

function fly(text, mine) {
  if (!document.getElementById('overlay-on').checked) return;
  if (layer.childElementCount >= MAX_FLYING) return; // a flood never floods the page
  const el = document.createElement('div');
  el.className = mine ? 'dm mine' : 'dm';
  el.textContent = text;
  el.style.top = `${6 + (lane++ % LANES) * 11}%`;
  el.addEventListener('animationend', () => el.remove());
  layer.appendChild(el);
}

function chatLine(text, cls) {
  const ul = document.getElementById('chat');
  const li = document.createElement('li');
  li.textContent = text;
  if (cls) li.className = cls;
  ul.appendChild(li);
  while (ul.children.length > 60) ul.firstChild.remove();
  ul.scrollTop = ul.scrollHeight;
}

function onDanmaku(ev) {
  fly(ev.text, false);
  chatLine(`${ev.nickname}：${ev.text}`, ev.intent === 'question' ? 'question' : '');
}

function onReply(ev) {
  const out = document.getElementById('ask-msg');
  out.className = 'msg';
  out.textContent = ev.handed_off ? '已转人工客服，稍后联系你' : '主播回复你：' + ev.text;
  chatLine(`主播回复你：${ev.text}`, 'reply');
}

function showMood(label) {
  const el = document.getElementById('mood');
  el.hidden = false;
  el.textContent = '直播间氛围：' + (MOOD_LABELS[label] || label);
}

function myNickname() { return document.getElementById('nickname').value.trim() || '我'; }
function chatTell(text, err) {
  const el = document.getElementById('chat-msg');
  el.textContent = text; el.className = err ? 'msg err' : 'msg';
}

document.getElementById('nickname').value = localStorage.getItem('yunlian-nickname') || '';
document.getElementById('chat-form').onsubmit = (e) => {
  e.preventDefault();
  const input = document.getElementById('chat-text');
  const text = input.value.trim();
  if (!text) return;
  if (!eventsWs || eventsWs.readyState !== WebSocket.OPEN) { chatTell('正在重新连接，请稍后再发', true); return; }
  localStorage.setItem('yunlian-nickname', document.getElementById('nickname').value.trim());
  eventsWs.send(JSON.stringify({ type: 'danmaku', text, nickname: document.getElementById('nickname').value.trim() }));
  input.value = '';
  chatTell('');
};

// --- buying: order (idempotent per click) -> simulated cashier confirm --------------------
const buyMsg = document.getElementById('buy-msg');
const payBtn = document.getElementById('pay');
const fields = { name: 'buyer-name', phone: 'buyer-phone', address: 'buyer-address' };
const viewerId = localStorage.getItem('yunlian-viewer') || ('v-' + crypto.randomUUID().slice(0, 12));
localStorage.setItem('yunlian-viewer', viewerId);
for (const [k, id] of Object.entries(fields)) {
  document.getElementById(id).value = localStorage.getItem('yunlian-' + k) || '';
}

function tell(text, err) { buyMsg.textContent = text; buyMsg.className = err ? 'msg err' : 'msg'; }

async function api(path, options) {
  const res = await fetch(path, options);
  let data = {};
  try { data = await res.json(); } catch (e) { /* empty body */ }
  if (!res.ok) throw new Error(typeof data.detail === 'string' ? data.detail : `请求失败（${res.status}）`);
  return data;
}

document.getElementById('buy-form').onsubmit = async (e) => {
  e.preventDefault();
  if (!currentSku) return;
  const buyer = { id: viewerId };
  for (const [k, id] of Object.entries(fields)) {
    buyer[k] = document.getElementById(id).value.trim();
    localStorage.setItem('yunlian-' + k, buyer[k]);
  }
  const quantity = parseInt(document.getElementById('qty').value, 10);
  tell('下单中…');
  try {
    const order = await api('/api/shop/orders', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
      body: JSON.stringify({ buyer, items: [{ sku: currentSku, quantity }], room_id: roomId, persona: roomPersona, segment: currentSku }),
    });
    const pay = await api(`/api/shop/orders/${order.id}/payments`, { method: 'POST', headers: { 'X-Order-Token': order.order_token } });
    tell(`订单已创建，应付 ¥${order.total}，请在 ${new Date(order.pay_deadline).toLocaleTimeString()} 前支付`);
    payBtn.hidden = false;
    payBtn.textContent = `确认支付 ¥${order.total}（模拟支付）`;
    payBtn.onclick = async () => {
      payBtn.disabled = true;
      try {
        const done = await api(pay.confirm_url, { method: 'POST' });
        tell(`支付成功！订单号 ${done.order_id}`);
        document.getElementById('order-link')?.remove();  // the buyer's order page (workbench)
        const link = document.createElement('a');
        link.id = 'order-link'; link.className = 'msg'; link.textContent = '查看订单';
        link.href = `/orders/${encodeURIComponent(order.id)}#t=${encodeURIComponent(order.order_token)}`;
        buyMsg.after(link);
        payBtn.hidden = true;
      } catch (err) { tell(err.message, true); }
      payBtn.disabled = false;
    };
  } catch (err) { tell(err.message, true); }
};

document.getElementById('ask-form').onsubmit = async (e) => {
  e.preventDefault();
  const input = document.getElementById('question');
  const out = document.getElementById('ask-msg');
  out.className = 'msg'; out.textContent = '主播正在看你的问题…';
  try {
    const a = await api(`/api/rooms/${encodeURIComponent(roomId)}/questions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ viewer_id: viewerId, text: input.value }),
    });
    if (a.text) out.textContent = a.handed_off ? '已转人工客服，稍后联系你' : '主播马上回答：' + a.text;
    else out.textContent = '问题已收到，主播马上回答';
    input.value = '';
  } catch (err) { out.className = 'msg err'; out.textContent = err.message; }
};

function feed(text) {
  const ul = document.getElementById('feed');
  const li = document.createElement('li'); li.textContent = text; ul.prepend(li);
  while (ul.children.length > 8) ul.lastChild.remove();
}

function onShopEvent(ev) {
  const d = ev.data || {};
  if (ev.kind === 'order_paid') feed(`刚刚 ${d.buyer || '有人'} 拍了 ${d.quantity || ''}${d.unit || ''}`);
  else if (ev.kind === 'sold_out') feed('已售罄：' + (ev.sku || ''));
  else if (ev.kind === 'flash_sale_started') feed('秒杀开始啦！');
  else if (ev.kind === 'coupon_issued') feed('直播间发优惠券啦！');
  else if (ev.kind === 'product_changed' && ev.sku === currentSku && d.price != null && !currentFlash) {
    // the shop changed the price: the card takes it now, not at the host's next line
    // (a flash sale's room price stands until the sale ends: the host's line brings that)
    document.getElementById('p-price').textContent = '¥' + String(Number(d.price));
  }
  if (ev.kind === 'sold_out' && ev.sku === currentSku) {
    document.getElementById('p-price').textContent = '已售罄';
    document.getElementById('p-unit').textContent = '';
    document.getElementById('buy').disabled = true;
  }
}

window.yunlianViewer = { roomId, video, get pc() { return pc; }, get janus() { return janusSession; } };
play();
connectEvents();
