// 经 Janus 观看 (?via=janus): the room through a Janus streaming mountpoint, with Janus's own
// HTTP API (session, streaming handle, watch; Janus offers, the page answers). The room
// forwards its one encode to Janus, so Janus, not the room, carries these viewers.
// viewer.js calls window.janusWatch(peer, roomId, stale) instead of WHEP.
window.janusWatch = async function janusWatch(peer, roomId, stale) {
  const where = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/janus`);
  if (!where.ok) throw new Error('janus: ' + where.status);
  const info = await where.json();
  const api = info.url;
  const tx = () => Math.random().toString(36).slice(2, 12);
  async function call(path, body) {
    const res = await fetch(api + path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(Object.assign({ transaction: tx() }, body)),
    });
    const reply = await res.json();
    if (reply.janus === 'error') throw new Error('janus: ' + reply.error.reason);
    return reply;
  }
  const session = (await call('', { janus: 'create' })).data.id;
  let closed = false;
  const keepalive = setInterval(() => { call(`/${session}`, { janus: 'keepalive' }).catch(() => {}); }, 25000);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    fetch(`${api}/${session}`, {
      method: 'POST', keepalive: true, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ janus: 'destroy', transaction: tx() }),
    }).catch(() => {});
  };
  try {
    const handle = (await call(`/${session}`, { janus: 'attach', plugin: 'janus.plugin.streaming' })).data.id;
    await call(`/${session}/${handle}`, { janus: 'message', body: { request: 'watch', id: info.mountpoint } });
    let jsep = null;
    for (let i = 0; i < 6 && !jsep; i += 1) { // long polls: Janus answers within 30 s each
      const ev = await (await fetch(`${api}/${session}?maxev=1&rid=${Date.now()}`)).json();
      if (ev.janus === 'event' && ev.jsep) jsep = ev.jsep;
      if (ev.janus === 'event' && ev.plugindata && ev.plugindata.data.error) {
        throw new Error('janus: ' + ev.plugindata.data.error);
      }
      if (stale()) { close(); return null; }
    }
    if (!jsep) throw new Error('janus: no offer');
    await peer.setRemoteDescription(jsep);
    await peer.setLocalDescription(await peer.createAnswer());
    await waitIce(peer, 2000);
    await call(`/${session}/${handle}`, {
      janus: 'message', body: { request: 'start' },
      jsep: { type: 'answer', sdp: peer.localDescription.sdp },
    });
    return { close, session, mountpoint: info.mountpoint };
  } catch (e) {
    close();
    throw e;
  }
};
