// 排班: add, enable/disable and delete daily slots through /api/shop/schedule. Requests carry
// the session's CSRF token (auth.js wraps fetch); every reason is shown as text.
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  function say(el, text, err) { if (!el) return; el.textContent = text; el.className = err ? 'msg err' : 'msg'; }
  async function api(path, options) {
    const res = await fetch(path, options);
    let data = {};
    try { data = await res.json(); } catch (e) { /* empty body */ }
    if (!res.ok) throw new Error(typeof data.detail === 'string' ? data.detail : `请求失败（${res.status}）`);
    return data;
  }
  const json = (method, body) => ({ method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  const form = document.getElementById('slot-form');
  if (form) {
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const msg = $('#s-msg'); const btn = $('#s-save');
      const body = {
        room_id: $('#s-room').value.trim(),
        title: $('#s-title').value.trim(),
        persona: $('#s-persona').value,
        resolution: $('#s-resolution').value,
        start: $('#s-start').value,
        end: $('#s-end').value === '00:00' ? '24:00' : $('#s-end').value,
        lineup: [...form.querySelectorAll('input[name="lineup"]:checked')].map((x) => x.value),
        outputs: [],
      };
      const url = $('#o-url').value.trim();
      if (url) body.outputs.push({ name: $('#o-name').value.trim(), url, stream_key: $('#o-key').value.trim() });
      if (!body.room_id) { say(msg, '请填写直播间编号', true); return; }
      btn.disabled = true; say(msg, '保存中…');
      try {
        if (form.dataset.edit) {
          delete body.room_id;  // a slot stays in its room
          if (form.dataset.multi) delete body.outputs;  // several outputs: kept as they are
          await api(`/api/shop/schedule/${encodeURIComponent(form.dataset.edit)}`, json('PATCH', body));
        } else {
          await api('/api/shop/schedule', json('POST', body));
        }
        say(msg, '已保存');
        location.reload();
      } catch (err) {
        say(msg, err.message, true);
      } finally { btn.disabled = false; }
    });
  }

  // 修改: the form takes the slot's values; a stream key left empty keeps the stored one
  function edit(slot) {
    form.dataset.edit = String(slot.id);
    $('#s-heading').textContent = `修改时段（直播间 ${slot.room_id}）`;
    $('#s-room').value = slot.room_id; $('#s-room').readOnly = true;
    $('#s-title').value = slot.title; $('#s-persona').value = slot.persona;
    $('#s-resolution').value = slot.resolution || '720p';
    $('#s-start').value = slot.start; $('#s-end').value = slot.end === '24:00' ? '00:00' : slot.end;
    form.querySelectorAll('input[name="lineup"]').forEach((x) => { x.checked = slot.lineup.includes(x.value); });
    const out = slot.outputs[0] || { name: '', url: '', stream_key: '' };
    if (slot.outputs.length > 1) form.dataset.multi = '1';
    ['#o-name', '#o-url', '#o-key'].forEach((id) => { $(id).disabled = slot.outputs.length > 1; });
    $('#o-name').value = out.name; $('#o-url').value = out.url; $('#o-key').value = '';
    $('#o-key').placeholder = out.url ? `已保存 ${out.stream_key}（留空不变）` : '';
    $('#s-save').textContent = '保存修改'; $('#s-cancel').hidden = false;
    form.scrollIntoView({ behavior: 'smooth' });
  }
  $('#s-cancel').addEventListener('click', () => location.reload());

  document.addEventListener('click', async (e) => {
    const editBtn = e.target.closest('.sc-edit');
    if (editBtn) { edit(JSON.parse(editBtn.dataset.slotJson)); return; }
    const btn = e.target.closest('.sc-toggle, .sc-delete');
    if (!btn) return;
    const row = btn.closest('tr[data-slot]');
    const msg = $('.msg', row);
    const id = row.dataset.slot;
    btn.disabled = true;
    try {
      if (btn.classList.contains('sc-delete')) {
        if (!confirm('删除这个时段？正在直播的会下播。')) { btn.disabled = false; return; }
        await api(`/api/shop/schedule/${encodeURIComponent(id)}`, { method: 'DELETE' });
      } else {
        await api(`/api/shop/schedule/${encodeURIComponent(id)}`, json('PATCH', { enabled: btn.dataset.enabled !== 'true' }));
      }
      location.reload();
    } catch (err) {
      say(msg, err.message, true);
      btn.disabled = false;
    }
  });
})();
