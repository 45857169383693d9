// The buyer's order page: the order's token comes from the link's #t=… (kept in this
// browser afterwards) and travels only in the X-Order-Token header.
(function () {
  const main = document.getElementById('order');
  const id = main.dataset.order;
  const statuses = JSON.parse(document.getElementById('statuses').textContent);
  statuses.paid = '已支付，待发货';
  const hash = new URLSearchParams(location.hash.slice(1));
  const key = 'yunlian-order-' + id;
  const token = hash.get('t') || localStorage.getItem(key) || '';
  const msg = document.getElementById('msg');
  if (hash.get('t')) { localStorage.setItem(key, hash.get('t')); history.replaceState(null, '', location.pathname); }
  if (!token) { document.getElementById('status').textContent = '无法查看：请从下单页面的链接打开'; return; }
  fetch(`/api/shop/orders/${encodeURIComponent(id)}/tracking`, { headers: { 'X-Order-Token': token } })
    .then(async (res) => {
      const o = await res.json();
      if (!res.ok) throw new Error(typeof o.detail === 'string' ? o.detail : `读取失败（${res.status}）`);
      document.getElementById('status').textContent = statuses[o.status] || o.status;
      document.getElementById('total').textContent = o.total;
      const items = document.getElementById('items');
      for (const it of o.items) {
        const li = document.createElement('li');
        li.textContent = `${it.sku} × ${it.quantity}${it.unit}  ¥${it.amount}`;
        items.append(li);
      }
      if (o.shipment) {
        document.getElementById('courier').textContent = o.shipment.courier;
        document.getElementById('tracking').textContent = o.shipment.tracking_no;
        document.getElementById('shipment').hidden = false;
      }
      if (o.refund_decision) {
        const el = document.getElementById('refund');
        el.textContent = o.refund_decision.approved ? '退款已同意' : `退款未通过：${o.refund_decision.reason}`;
        el.hidden = false;
      }
    })
    .catch((err) => { msg.textContent = err.message; msg.className = 'msg err'; });
})();
