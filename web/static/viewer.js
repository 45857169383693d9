// Viewer page: WHEP playback of the room, live captions and product card, buy button.
const roomId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop());
const video = document.getElementById('video');
const statusEl = document.getElementById('status');
const unmute = document.getElementById('unmute');
let sessionUrl = null;
let pc = null;
let currentSku = null;

function setStatus(text) { statusEl.textContent = text; }

function waitIce(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, ms);
  });
}

async function play() {
  pc = new RTCPeerConnection();
  const stream = new MediaStream();
  video.srcObject = stream;
  pc.ontrack = (e) => { stream.addTrack(e.track); };
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.onconnectionstatechange = () => {
    const s = pc.connectionState;
    setStatus({ connected: '直播中', connecting: '连接中…', failed: '连接失败，正在重试', disconnected: '网络不稳定' }[s] || s);
    if (s === 'failed') { restart(); }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await waitIce(pc, 2000);
  const res = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/whep`, {
    method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
  });
  if (res.status !== 201) {
    let reason = res.statusText;
    try { reason = (await res.json()).detail; } catch (e) { /* not JSON */ }
    setStatus(res.status === 404 ? '直播间未开播' : '无法播放：' + reason);
    return false;
  }
  sessionUrl = res.headers.get('Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  return true;
}

async function restart() {
  try { if (pc) pc.close(); } catch (e) { /* already closed */ }
  setTimeout(play, 2000);
}

unmute.onclick = () => { video.muted = false; video.play(); unmute.style.display = 'none'; };

window.addEventListener('pagehide', () => {
  if (sessionUrl) fetch(sessionUrl, { method: 'DELETE', keepalive: true });
});

function showCard(card, sku) {
  if (!card) return;
  currentSku = sku;
  document.getElementById('p-title').textContent = card.title;
  document.getElementById('p-price').textContent = '¥' + card.price;
  document.getElementById('p-unit').textContent = '/' + card.unit;
  const ul = document.getElementById('p-lines');
  ul.innerHTML = '';
  for (const l of card.lines) { const li = document.createElement('li'); li.textContent = l; ul.appendChild(li); }
  document.getElementById('buy').disabled = !sku;
}

function connectEvents() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/api/rooms/${encodeURIComponent(roomId)}/events`);
  ws.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === 'hello') { document.getElementById('title').textContent = ev.title; }
    if (ev.type === 'line') {
      document.getElementById('caption').textContent = ev.text;
      showCard(ev.card, ev.sku);
    }
    if (ev.type === 'shop' && window.yunlianShop) window.yunlianShop.onEvent(ev);
  };
  ws.onclose = () => setTimeout(connectEvents, 3000);
}

document.getElementById('buy').onclick = async () => {
  const msg = document.getElementById('buy-msg');
  if (!window.yunlianShop || !currentSku) return;
  msg.className = 'msg'; msg.textContent = '下单中…';
  try {
    msg.textContent = await window.yunlianShop.buy(roomId, currentSku);
  } catch (e) {
    msg.className = 'msg err'; msg.textContent = e.message;
  }
};

window.yunlianViewer = { roomId, video, get pc() { return pc; } };
play();
connectEvents();
