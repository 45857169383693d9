// A small WHEP player (draft-ietf-wish-whep): one recvonly peer, the offer POSTed as
// application/sdp, the answer applied, DELETE on the Location when done. Reconnects by
// itself after a failure (1, 2, 4, 8, then every 10 s).
(function () {
  const RETRY_MS = [1000, 2000, 4000, 8000, 10000];

  function waitIce(pc, ms) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve();
      });
      setTimeout(resolve, ms);
    });
  }

  // play(url, video, onStatus, opts) -> { stop() }. onStatus gets 'connecting' | 'connected' |
  // 'retrying' | 'offline' (the room is not live) with a reason. opts.lazyAudio: while the
  // video is muted, its audio track is held back (a cold audio output costs the page a
  // long task of 200+ ms) and joins the picture when the video is unmuted.
  function play(url, video, onStatus, opts) {
    const say = onStatus || function () {};
    const lazyAudio = Boolean(opts && opts.lazyAudio);
    let pc = null; let location = null; let attempt = 0; let timer = null; let stopped = false;

    function hangUp() {
      if (location) { fetch(location, { method: 'DELETE', keepalive: true }).catch(() => {}); location = null; }
      try { if (pc) pc.close(); } catch (e) { /* closed */ }
      pc = null;
    }
    function retry(reason) {
      if (stopped || timer) return;
      say('retrying', reason || '');
      const delay = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
      attempt += 1;
      timer = setTimeout(() => { timer = null; start(); }, delay);
    }
    async function start() {
      hangUp();
      if (stopped) return;
      const peer = pc = new RTCPeerConnection();
      const stream = new MediaStream();
      video.srcObject = stream;
      peer.ontrack = (e) => {
        if (!(lazyAudio && e.track.kind === 'audio' && video.muted)) { stream.addTrack(e.track); return; }
        const join = () => {
          if (video.muted || peer !== pc) return;
          video.removeEventListener('volumechange', join);
          stream.addTrack(e.track);
        };
        video.addEventListener('volumechange', join);
      };
      peer.addTransceiver('video', { direction: 'recvonly' });
      peer.addTransceiver('audio', { direction: 'recvonly' });
      peer.onconnectionstatechange = () => {
        if (peer !== pc) return;
        const s = peer.connectionState;
        if (s === 'connected') { attempt = 0; say('connected', ''); }
        if (s === 'failed') retry('连接中断');
      };
      say('connecting', '');
      try {
        await peer.setLocalDescription(await peer.createOffer());
        await waitIce(peer, 2000);
        const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: peer.localDescription.sdp });
        if (peer !== pc) return;
        if (res.status !== 201) {
          let reason = res.statusText;
          try { reason = (await res.json()).detail; } catch (e) { /* not JSON */ }
          if (res.status === 404) { say('offline', reason); }
          retry(reason);
          return;
        }
        location = res.headers.get('Location');
        await peer.setRemoteDescription({ type: 'answer', sdp: await res.text() });
      } catch (e) {
        if (peer === pc) retry('网络不稳定');
      }
    }
    window.addEventListener('pagehide', hangUp);
    start();
    return { stop() { stopped = true; if (timer) clearTimeout(timer); hangUp(); }, restart() { attempt = 0; start(); } };
  }

  window.whep = { play };
})();
