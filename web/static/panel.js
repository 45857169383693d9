// Farmer control panel: start a room in one click, watch and stop rooms.
const msg = document.getElementById('msg');
// ops watch rooms from the ops desk: the panel's buttons are the shop's, not theirs
(window.yunlianReady || Promise.resolve({})).then((me) => { if (me && me.role === 'ops') location.replace('/ops'); });

function say(text, err) { msg.textContent = text; msg.className = err ? 'msg err' : 'msg'; }

async function loadChoices() {
  const personas = await (await fetch('/api/personas')).json();
  const sel = document.getElementById('persona');
  for (const p of personas) {
    const o = document.createElement('option'); o.value = p.id; o.textContent = `${p.name}（${p.role}）`; sel.appendChild(o);
  }
  const products = await (await fetch('/api/shop/products')).json();
  const skuSel = document.getElementById('op-sku');
  for (const p of products) {
    const o = document.createElement('option'); o.value = p.sku; o.textContent = `${p.title} ¥${p.price}/${p.unit}`; skuSel.appendChild(o);
  }
  const box = document.getElementById('products');
  for (const p of products) {
    const l = document.createElement('label');
    const c = document.createElement('input'); c.type = 'checkbox'; c.value = p.sku;
    l.appendChild(c); l.appendChild(document.createTextNode(` ${p.title} ¥${p.price}/${p.unit}`));
    box.appendChild(l);
  }
}

async function loadRooms() {
  const [rooms, metrics] = await Promise.all([
    (await fetch('/api/rooms')).json(), (await fetch('/api/metrics')).json()]);
  const tb = document.getElementById('rooms');
  tb.innerHTML = '';
  const roomSel = document.getElementById('op-room');
  const chosen = roomSel.value;
  roomSel.innerHTML = '';
  for (const r of rooms) {
    const o = document.createElement('option'); o.value = r.room_id; o.textContent = r.title; roomSel.appendChild(o);
  }
  // the shop's rooms that are off air, after the live ones: their saved outputs (多平台推流)
  // are listed and can be removed until they go live again
  try {
    const res = await fetch('/api/shop/rooms');
    const live = new Set(rooms.map((r) => r.room_id));
    for (const r of res.ok ? await res.json() : []) {
      if (live.has(r.room_id)) continue;
      const o = document.createElement('option'); o.value = r.room_id;
      o.textContent = `${r.title || r.room_id}（未开播）`; o.dataset.offAir = '1';
      roomSel.appendChild(o);
    }
  } catch (e) { /* the live rooms are enough */ }
  if (chosen) roomSel.value = chosen;
  for (const r of rooms) {
    const tr = document.createElement('tr');
    const fps = (metrics.rooms[r.room_id] || {}).fps;
    for (const v of [r.title, r.persona_name, r.viewers, fps]) {
      const td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
    }
    const td = document.createElement('td');
    const a = document.createElement('a'); a.href = '/rooms/' + encodeURIComponent(r.room_id); a.textContent = '观看';
    const b = document.createElement('button'); b.className = 'secondary'; b.textContent = '下播';
    b.onclick = async () => {
      const res = await fetch(`/api/rooms/${encodeURIComponent(r.room_id)}/stop`, { method: 'POST' });
      say(res.ok ? '已下播' : '下播失败：' + (await res.json()).detail, !res.ok);
      loadRooms();
    };
    td.appendChild(a); td.appendChild(document.createTextNode(' ')); td.appendChild(b);
    tr.appendChild(td); tb.appendChild(tr);
  }
}

document.getElementById('start').onclick = async () => {
  const lineup = [...document.querySelectorAll('#products input:checked')].map((c) => c.value);
  const body = {
    room_id: 'room-' + Math.random().toString(36).slice(2, 8),
    persona: document.getElementById('persona').value,
    title: document.getElementById('title').value.trim(),
    lineup: lineup.length ? lineup : null,
  };
  say('开播中…');
  const res = await fetch('/api/rooms', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const data = await res.json();
  if (res.status === 201) {
    say('开播成功！');
    const a = document.createElement('a'); a.href = '/rooms/' + data.room_id; a.textContent = ' 去直播间看看 →';
    msg.appendChild(a);
  } else {
    say('开播失败：' + data.detail, true);
  }
  loadRooms();
};

async function operate(path, body, done) {
  const out = document.getElementById('op-msg');
  const room = document.getElementById('op-room').value;
  if (!room) { out.className = 'msg err'; out.textContent = '请先开播'; return; }
  const res = await fetch(`/api/shop/rooms/${encodeURIComponent(room)}/${path}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  let data = {};
  try { data = await res.json(); } catch (e) { /* empty body */ }
  out.className = res.ok ? 'msg' : 'msg err';
  out.textContent = res.ok ? done : '失败：' + (typeof data.detail === 'string' ? data.detail : res.status);
}

document.getElementById('pin').onclick = () =>
  operate('pin', { sku: document.getElementById('op-sku').value }, '已置顶，主播马上讲这个商品');

document.getElementById('flash').onclick = () => operate('flash-sales', {
  sku: document.getElementById('op-sku').value,
  price: document.getElementById('fs-price').value,
  quantity: parseInt(document.getElementById('fs-qty').value, 10),
  duration_s: parseInt(document.getElementById('fs-min').value, 10) * 60,
}, '秒杀已开始！');

loadChoices();
loadRooms();
setInterval(loadRooms, 5000);
