// 开播向导: host → products → 开播, then the room plays here over WHEP. The first click and
// the moment video plays are kept in window.wizardTimes (performance.now(), ms) for the bench.
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel) => [...document.querySelectorAll(sel)];
  const times = window.wizardTimes = { firstClick: null, startClick: null, started: null, playing: null };
  const personas = JSON.parse($('#wz-personas').textContent);
  let persona = null;
  const lineup = [];

  document.addEventListener('click', () => { if (times.firstClick === null) times.firstClick = performance.now(); }, true);

  function go(step) {
    for (const n of [1, 2, 3]) $(`#step-${n}`).hidden = n !== step;
    $$('#wz-steps li').forEach((li) => { if (Number(li.dataset.step) === step) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current'); });
    if (step === 3) {
      const who = personas.find((p) => p.id === persona);
      const names = lineup.map((sku) => $(`.wz-product[data-sku="${CSS.escape(sku)}"] b`).textContent);
      $('#wz-summary').textContent = `主播：${who ? who.name : ''}；商品：${names.length ? names.join('、') : '全部在售商品'}`;
      const room = $('#wz-room');
      if (!room.value) room.value = `fp-${new Date().toISOString().slice(5, 10).replace('-', '')}-${Math.random().toString(36).slice(2, 6)}`;
    }
  }
  $$('[data-go]').forEach((b) => b.addEventListener('click', () => go(Number(b.dataset.go))));
  $$('.wz-persona').forEach((b) => b.addEventListener('click', () => {
    persona = b.dataset.persona;
    $$('.wz-persona').forEach((x) => x.setAttribute('aria-pressed', String(x === b)));
    go(2);
  }));
  $$('.wz-product').forEach((b) => b.addEventListener('click', () => {
    const i = lineup.indexOf(b.dataset.sku);
    if (i >= 0) lineup.splice(i, 1); else lineup.push(b.dataset.sku);
    b.setAttribute('aria-pressed', String(i < 0));
  }));

  function waitIce(pc, ms) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((ok) => {
      const done = () => { if (pc.iceGatheringState === 'complete') ok(); };
      pc.addEventListener('icegatheringstatechange', done);
      setTimeout(ok, ms);
    });
  }

  async function play(roomId) {
    const video = $('#wz-video'); const status = $('#wz-status');
    const pc = new RTCPeerConnection();
    const stream = new MediaStream();
    video.srcObject = stream;
    pc.ontrack = (e) => stream.addTrack(e.track);
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    video.addEventListener('playing', () => {
      if (times.playing === null) times.playing = performance.now();
      status.textContent = '直播中：观众现在就能看到';
    }, { once: true });
    await pc.setLocalDescription(await pc.createOffer());
    await waitIce(pc, 2000);
    const res = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/whep`, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
    });
    if (res.status !== 201) throw new Error(`播放失败（${res.status}）`);
    const url = res.headers.get('Location');
    window.addEventListener('pagehide', () => { if (url) fetch(url, { method: 'DELETE', keepalive: true }); });
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  }

  $('#wz-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const msg = $('#wz-msg'); const btn = $('#wz-start');
    times.startClick = performance.now();
    if (!persona) { msg.textContent = '请先选主播'; msg.className = 'msg err'; go(1); return; }
    const roomId = $('#wz-room').value.trim();
    const body = {
      room_id: roomId, persona, title: $('#wz-title').value.trim(),
      lineup: lineup.length ? lineup : null, orientation: $('#wz-orientation').value,
      resolution: $('#wz-resolution').value,
    };
    btn.disabled = true; msg.className = 'msg'; msg.textContent = '正在开播…';
    try {
      const res = await fetch('/api/rooms', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      let data = {};
      try { data = await res.json(); } catch (err) { /* empty */ }
      if (!res.ok) {
        const d = data.detail;
        const text = typeof d === 'string' ? d : Array.isArray(d) ? d.map((x) => (x.loc || []).join('.')).join(' ') : '';
        if (res.status === 422 && text.includes('room_id')) throw new Error(`直播间编号只能用字母、数字、- 和 _，最多 64 位（${text}）`);
        if (res.status === 422 && text.includes('title')) throw new Error(`直播间标题最多 60 个字，不能有不可见字符（${text}）`);
        throw new Error(text || `开播失败（${res.status}）`);
      }
      times.started = performance.now();
      $('#step-3').hidden = true; $('#wz-steps').hidden = true;
      $('#step-live').hidden = false;
      $('#wz-live-title').textContent = `直播中：${data.title || body.title}`;
      $('#wz-watch').href = `/rooms/${encodeURIComponent(roomId)}`;
      $('#wz-console').href = `/workbench/live/${encodeURIComponent(roomId)}`;
      await play(roomId);
    } catch (err) {
      msg.className = 'msg err'; msg.textContent = err.message;
      btn.disabled = false;
    }
  });
})();
