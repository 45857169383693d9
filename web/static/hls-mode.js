// 省流模式: the room as HLS from nginx-rtmp (or a CDN) through the bundled hls.js, when the
// room's WebRTC seats are full (WHEP answers 503) or when the viewer picks it. Chat, the card
// and buying stay on the page's own API and WebSocket, so they work the same in both modes.
// Uses viewer.js's globals: roomId, video, pc, sessionUrl, setStatus, play.
const hlsMode = (() => {
  const button = document.getElementById('saver');
  let hls = null;
  let active = false;
  let address = null;

  async function hlsAddress() {
    if (address) return address;
    try {
      const res = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/hls`);
      if (!res.ok) return null;
      address = (await res.json()).url;
    } catch (e) { return null; }
    return address;
  }

  function leaveWebrtc() {
    if (sessionUrl) fetch(sessionUrl, { method: 'DELETE', keepalive: true }).catch(() => {});
    sessionUrl = null;
    try { if (pc) pc.close(); } catch (e) { /* already closed */ }
    pc = null;
    video.srcObject = null;
  }

  async function start(reason) {
    const url = await hlsAddress();
    if (!url) return false;
    leaveWebrtc();
    active = true;
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ liveSyncDurationCount: 2, maxLiveSyncPlaybackRate: 1.2 });
      hls.on(window.Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        setStatus('省流模式：网络不稳定，正在重试');
        if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else setTimeout(() => { if (hls) hls.loadSource(url); }, 2000);
      });
      hls.on(window.Hls.Events.FRAG_BUFFERED, () => setStatus('省流模式'));
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url; // Safari plays HLS itself
    } else {
      active = false;
      return false;
    }
    video.play().catch(() => { /* muted autoplay may still wait for a tap */ });
    setStatus(reason === 'full' ? '观看人数较多，已切换到省流模式' : '省流模式');
    show();
    return true;
  }

  function stop() {
    if (hls) { hls.destroy(); hls = null; }
    video.removeAttribute('src');
    video.load();
    active = false;
    show();
    setStatus('连接中…');
    play();
  }

  function show() {
    button.textContent = active ? '退出省流模式' : '省流模式';
    button.setAttribute('aria-pressed', String(active));
  }

  button.onclick = () => (active ? stop() : start('chosen'));
  hlsAddress().then((url) => { button.hidden = !url; });

  return { start, stop, get active() { return active; } };
})();
window.hlsMode = hlsMode;
