// 工单台: reply (sent to the viewer's chat when they are still in the room), assign, close,
// and each open ticket's SLA timer (first reply due 10 minutes after it was filed).
(function () {
  const desk = document.getElementById('desk');
  if (!desk) return;
  // times on the page are the server's (naive UTC): count from its clock, not this device's
  const utc = (s) => Date.parse(s.endsWith('Z') ? s : s + 'Z');
  const skew = utc(desk.dataset.now) - Date.now();
  const mmss = (ms) => { const s = Math.floor(Math.abs(ms) / 1000); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`; };

  function tick() {
    const now = Date.now() + skew;
    for (const li of desk.querySelectorAll('.td-item')) {
      const el = li.querySelector('[data-sla]');
      if (li.dataset.status !== 'open') { el.textContent = '已关闭'; continue; }
      if (li.dataset.replied) { el.textContent = '已回复'; el.className = 'td-sla'; li.classList.remove('overdue'); continue; }
      const left = utc(li.dataset.due) - now;
      el.textContent = left >= 0 ? `剩余 ${mmss(left)}` : `超时 ${mmss(left)}`;
      el.className = left >= 0 ? 'td-sla' : 'td-sla late';
      li.classList.toggle('overdue', left < 0);
    }
  }
  tick();
  setInterval(tick, 1000);

  // new tickets filed while the desk is open: say so (the page is not reordered under a hand)
  const shown = new Set([...desk.querySelectorAll('.td-item')].map((li) => li.dataset.ticket));
  async function poll() {
    if (desk.dataset.status === 'closed') return;
    try {
      const res = await fetch('/api/tickets?status=open&limit=200');
      if (!res.ok) return;
      const fresh = (await res.json()).filter((t) => !shown.has(t.id)).length;
      const note = document.getElementById('new-tickets');
      note.hidden = fresh === 0;
      document.getElementById('new-tickets-link').textContent = `有 ${fresh} 条新工单，点击刷新`;
    } catch (e) { /* the next poll tries again */ }
  }
  setInterval(poll, 10000);

  async function post(path, body) {
    const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    let data = {};
    try { data = await res.json(); } catch (e) { /* empty */ }
    if (!res.ok) throw new Error(typeof data.detail === 'string' ? data.detail : `请求失败（${res.status}）`);
    return data;
  }
  function say(li, text, err) { const el = li.querySelector('[data-msg]'); el.textContent = text; el.className = err ? 'msg err' : 'msg'; }
  function addReply(li, r) {
    const item = document.createElement('li');
    item.textContent = `${r.author}：${r.text}` + (r.delivered ? '（已送达）' : '（观众不在直播间）');
    li.querySelector('[data-replies]').appendChild(item);
  }
  async function loadReplies(li) {
    try {
      const res = await fetch(`/api/tickets/${encodeURIComponent(li.dataset.ticket)}`);
      if (!res.ok) return;
      const t = await res.json();
      li.querySelector('[data-replies]').replaceChildren();
      (t.replies || []).forEach((r) => addReply(li, r));
    } catch (e) { /* shown on the next load */ }
  }
  for (const li of desk.querySelectorAll('.td-item')) {
    const id = encodeURIComponent(li.dataset.ticket);
    if (li.dataset.replied) loadReplies(li);
    const form = li.querySelector('[data-reply]');
    if (!form) continue;
    form.onsubmit = async (e) => {
      e.preventDefault();
      const text = form.elements.text.value.trim();
      if (!text) { say(li, '请输入回复内容', true); return; }
      try {
        const out = await post(`/api/tickets/${id}/reply`, { text });
        addReply(li, out.reply);
        form.elements.text.value = '';
        li.dataset.replied = out.ticket.first_reply_at || 'yes';
        li.querySelector('[data-assignee]').textContent = out.ticket.assigned_to || '待领取';
        say(li, out.reply.delivered ? '已回复，观众在直播间聊天里看到了' : '已回复并记录；观众已离开直播间');
        tick();
      } catch (err) { say(li, err.message, true); }
    };
    li.querySelector('[data-assign]').onclick = async () => {
      try {
        const t = await post(`/api/tickets/${id}/assign`, { assignee: li.querySelector('[data-assign-to]').value });
        li.querySelector('[data-assignee]').textContent = t.assigned_to || '待领取';
        say(li, t.assigned_to ? `已指派给 ${t.assigned_to}` : '已退回待领取');
      } catch (err) { say(li, err.message, true); }
    };
    li.querySelector('[data-close]').onclick = async () => {
      try {
        await post(`/api/tickets/${id}/close`, { note: li.querySelector('[data-note]').value.trim() });
        li.dataset.status = 'closed'; li.classList.add('closed'); li.classList.remove('overdue');
        li.querySelectorAll('.td-form').forEach((f) => f.remove());
        say(li, '工单已关闭');
        tick();
      } catch (err) { say(li, err.message, true); }
    };
  }
})();
