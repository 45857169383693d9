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
        await api('/api/shop/schedule', json('POST', body));
        say(msg, '已保存');
        location.reload();
      } catch (err) {
        say(msg, err.message, true);
      } finally { btn.disabled = false; }
    });
  }

  document.addEventListener('click', async (e) => {
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
