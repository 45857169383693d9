// 多平台推流: a room's RTMP outputs (Douyin, Kuaishou, Bilibili, a CDN) in the panel. The
// stream key is sent once and only ever shown masked; a failing push shows its error here.
(() => {
  const STATES = { connecting: '连接中', live: '推流中', retrying: '重连中', stopped: '已停止', stalled: '对方无响应', 'off air': '未开播' };
  const out = document.getElementById('out-msg');
  const list = document.getElementById('outputs');
  const room = () => document.getElementById('op-room').value;
  const base = () => `/api/rooms/${encodeURIComponent(room())}/outputs`;

  function tell(text, err) { out.textContent = text; out.className = err ? 'msg err' : 'msg'; }

  async function refresh() {
    if (!room()) { list.innerHTML = ''; return; }
    let items = [];
    try {
      const res = await fetch(base());
      if (!res.ok) return;
      items = await res.json();
    } catch (e) { return; }
    list.innerHTML = '';
    for (const o of items) {
      const li = document.createElement('li');
      li.dataset.id = o.id;
      li.dataset.state = o.state;
      const name = o.internal ? '省流模式 (HLS)' : (o.name || o.url);
      let text = `${name} · ${STATES[o.state] || o.state} · ${o.kbps} kb/s · 重连 ${o.reconnects} 次`;
      if (o.state !== 'live' && o.last_error) {
        text += ` · 错误：${o.error_hint || o.last_error}`;
        li.title = o.last_error;
      }
      li.appendChild(document.createTextNode(text + ' '));
      if (!o.internal) {
        const b = document.createElement('button');
        const offAir = o.state === 'off air';  // saved, pushed when the room next goes live
        b.className = 'secondary'; b.textContent = offAir ? '删除' : '停止';
        b.onclick = async () => {
          const res = await fetch(`${base()}/${encodeURIComponent(o.id)}`, { method: 'DELETE' });
          tell(res.ok ? (offAir ? '已删除' : '已停止推流') : (offAir ? '删除失败' : '停止失败'), !res.ok);
          refresh();
        };
        li.appendChild(b);
      }
      list.appendChild(li);
    }
  }

  document.getElementById('out-add').onclick = async () => {
    if (!room()) { tell('请先开播', true); return; }
    const key = document.getElementById('out-key');
    const body = {
      name: document.getElementById('out-name').value.trim(),
      url: document.getElementById('out-url').value.trim(),
      stream_key: key.value.trim(),
    };
    const res = await fetch(base(), {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    let data = {};
    try { data = await res.json(); } catch (e) { /* empty body */ }
    if (res.status === 201) {
      key.value = '';
      tell(`已添加，推流码 ${data.stream_key}`);
    } else {
      tell(typeof data.detail === 'string' ? data.detail : `添加失败（${res.status}）`, true);
    }
    refresh();
  };

  document.getElementById('op-room').addEventListener('change', refresh);
  setInterval(refresh, 3000);
  setTimeout(refresh, 500);
})();
