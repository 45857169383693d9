// 农户工作台: the forms of the workbench pages. Requests carry the session's CSRF token
// (auth.js wraps fetch); every answer's reason is shown as text, never as markup.
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const MAX_PHOTO = 1024 * 1024;

  function say(el, text, err) { if (!el) return; el.textContent = text; el.className = err ? 'msg err' : 'msg'; }

  async function api(path, options) {
    const res = await fetch(path, options);
    let data = {};
    try { data = await res.json(); } catch (e) { /* empty body */ }
    if (!res.ok) throw new Error(typeof data.detail === 'string' ? data.detail : `请求失败（${res.status}）`);
    return data;
  }
  const json = (method, body) => ({ method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const list = (text) => text.split(/[、,，\n]/).map((s) => s.trim()).filter(Boolean);
  const val = (id) => { const el = document.getElementById(id); return el ? el.value.trim() : ''; };

  // a phone photo is often several MB: shrink it here, the server keeps at most 1 MB
  async function shrink(file) {
    if (file.size <= MAX_PHOTO) return file;
    try {
      const bmp = await createImageBitmap(file);
      const scale = Math.min(1, 2000 / Math.max(bmp.width, bmp.height));
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(bmp.width * scale); canvas.height = Math.round(bmp.height * scale);
      canvas.getContext('2d').drawImage(bmp, 0, 0, canvas.width, canvas.height);
      for (const q of [0.85, 0.7, 0.5]) {
        const blob = await new Promise((ok) => canvas.toBlob(ok, 'image/jpeg', q));
        if (blob && blob.size <= MAX_PHOTO) return blob;
      }
    } catch (e) { /* not an image the browser can read: the server says why */ }
    return file;
  }

  async function uploadPhoto(sku) {
    const input = document.getElementById('f-photo');
    if (!input || !input.files.length) return null;
    const body = await shrink(input.files[0]);
    return api(`/api/workbench/products/${encodeURIComponent(sku)}/photos`, {
      method: 'POST', headers: { 'Content-Type': body.type || 'application/octet-stream' }, body,
    });
  }

  function addThumb(url) {
    const img = document.createElement('img');
    img.src = url; img.alt = '商品图片';
    $('#photos').append(img);
  }

  const form = document.getElementById('product-form');
  if (form) {
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const msg = $('#msg'); const btn = $('#save');
      btn.disabled = true; say(msg, '保存中…');
      const sku = val('f-sku');
      try {
        if (form.dataset.mode === 'new') {
          const body = {
            sku, name: val('f-name'), title: val('f-title'), price: val('f-price'), unit: val('f-unit'),
            origin: val('f-origin'), category: val('f-category'), certifications: list(val('f-certs')),
            features: val('f-features').split('\n').map((s) => s.trim()).filter(Boolean),
            batches: [{ id: val('b-id'), harvest_date: val('b-harvest'), quantity: parseInt(val('b-qty'), 10),
              origin_plot: val('b-plot'), ...(val('b-expiry') ? { expiry_date: val('b-expiry') } : {}) }],
          };
          if (val('f-list-price')) body.list_price = val('f-list-price');
          await api('/api/shop/products', json('POST', body));
        } else {
          await api(`/api/shop/products/${encodeURIComponent(sku)}`, json('PATCH', {
            title: val('f-title'), price: val('f-price'), unit: val('f-unit'),
            list_price: val('f-list-price') || null,
            features: val('f-features').split('\n').map((s) => s.trim()).filter(Boolean),
          }));
        }
        let photoError = '';
        try {
          const media = await uploadPhoto(sku);
          if (media) addThumb(media.url);
        } catch (err) { photoError = err.message; }
        if (photoError) {
          say(msg, `商品已保存，但图片未上传：${photoError}`, true);
          if (form.dataset.mode === 'new') { form.dataset.mode = 'edit'; }
        } else if (form.dataset.mode === 'new') {
          location.href = '/workbench/products?saved=' + encodeURIComponent(sku);
          return;
        } else {
          say(msg, '已保存');
        }
      } catch (err) { say(msg, err.message, true); }
      btn.disabled = false;
    });
  }

  const batchForm = document.getElementById('batch-form');
  if (batchForm) {
    batchForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const msg = $('#batch-msg');
      try {
        await api(`/api/shop/products/${encodeURIComponent(batchForm.dataset.sku)}/batches`, json('POST', {
          id: val('nb-id'), harvest_date: val('nb-harvest'), quantity: parseInt(val('nb-qty'), 10),
          origin_plot: val('nb-plot'), certifications: list(val('nb-certs')),
          ...(val('nb-expiry') ? { expiry_date: val('nb-expiry') } : {}),
        }));
        location.reload();
      } catch (err) { say(msg, err.message, true); }
    });
  }

  // bulk edit: preview first, then apply exactly what was previewed
  const bulk = document.getElementById('bulk-form');
  if (bulk) {
    let previewed = null;
    const items = () => [...bulk.querySelectorAll('tbody tr')].map((tr) => {
      const price = $('.new-price', tr).value.trim(); const stock = $('.new-stock', tr).value.trim();
      const it = { sku: tr.dataset.sku };
      if (price) it.price = price;
      if (stock) it.stock = Number(stock);
      return it;
    }).filter((it) => 'price' in it || 'stock' in it);
    const show = (res) => {
      const box = $('#bulk-preview'); box.textContent = '';
      const table = document.createElement('table'); table.className = 'wb-table'; table.id = 'preview-table';
      table.innerHTML = '<thead><tr><th>商品</th><th>价格</th><th>库存</th><th>问题</th></tr></thead>';
      const tb = document.createElement('tbody');
      for (const r of res.rows) {
        const tr = document.createElement('tr');
        const cells = [[ '商品', r.name || r.sku ], [ '价格', `${r.price_before ?? ''} → ${r.price_after ?? ''}` ],
          [ '库存', `${r.stock_before ?? ''} → ${r.stock_after ?? ''}` ], [ '问题', r.error || '' ]];
        for (const [label, text] of cells) { const td = document.createElement('td'); td.dataset.label = label; td.textContent = text; tr.append(td); }
        if (r.error) tr.className = 'err';
        tb.append(tr);
      }
      table.append(tb); box.append(table);
    };
    bulk.addEventListener('submit', async (e) => {
      e.preventDefault();
      const chosen = items();
      if (!chosen.length) { say($('#msg'), '请先填写要修改的价格或库存', true); return; }
      try {
        const res = await api('/api/workbench/products/bulk', json('POST', { items: chosen, apply: false }));
        show(res);
        previewed = res.errors ? null : chosen;
        $('#apply').disabled = !previewed;
        say($('#msg'), res.errors ? `有 ${res.errors} 行需要修改` : '请核对后点「确认修改」', !!res.errors);
      } catch (err) { say($('#msg'), err.message, true); }
    });
    $('#apply').addEventListener('click', async () => {
      if (!previewed) return;
      try {
        const res = await api('/api/workbench/products/bulk', json('POST', { items: previewed, apply: true }));
        show(res);
        say($('#msg'), res.applied ? `已修改 ${res.rows.length} 个商品` : '未修改：请先处理问题行', !res.applied);
        $('#apply').disabled = true; previewed = null;
      } catch (err) { say($('#msg'), err.message, true); }
    });
  }

  const printBtn = document.getElementById('print');
  if (printBtn) printBtn.onclick = () => window.print();

  // orders: ship, refund decisions, CSV
  for (const f of document.querySelectorAll('.ship-form')) {
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const out = $('.msg', f);
      try {
        const r = await api(`/api/workbench/orders/${encodeURIComponent(f.dataset.order)}/ship`, json('POST', {
          courier: f.elements.courier.value.trim(), tracking_no: f.elements.tracking_no.value.trim(),
        }));
        const cell = f.closest('tr').querySelector('.status');
        cell.textContent = `已发货 ${r.courier} ${r.tracking_no}`;
        f.remove();
      } catch (err) { say(out, err.message, true); }
    });
  }
  for (const f of document.querySelectorAll('.refund-form')) {
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const approve = e.submitter && e.submitter.value === 'approve';
      try {
        const r = await api(`/api/workbench/orders/${encodeURIComponent(f.dataset.order)}/refund`, json('POST', {
          approve, reason: f.elements.reason.value.trim(),
        }));
        f.closest('tr').querySelector('.status').textContent = approve ? '已退款' : `已拒绝退款（${r.reason}）`;
        f.remove();
      } catch (err) { say($('.msg', f), err.message, true); }
    });
  }
  const csvBtn = document.getElementById('csv-ship');
  if (csvBtn) {
    csvBtn.addEventListener('click', async () => {
      const file = $('#csv-file').files[0]; const out = $('#csv-msg'); const errs = $('#csv-errors');
      errs.textContent = '';
      if (!file) { say(out, '请选择 CSV 文件', true); return; }
      try {
        const r = await api('/api/workbench/orders/ship-csv', { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: file });
        say(out, `已发货 ${r.shipped} 单` + (r.errors.length ? `，${r.errors.length} 行未发货：` : ''), r.errors.length > 0);
        for (const e of r.errors) {
          const li = document.createElement('li');
          li.textContent = `第 ${e.line} 行（${e.order_id || '无订单号'}）：${e.reason}`;
          errs.append(li);
        }
      } catch (err) { say(out, err.message, true); }
    });
  }
})();

// 订单: tick orders, then one PDF (拣货单 + 面单) of the ticked ones
(function () {
  const btn = document.getElementById('pdf-selected');
  if (!btn) return;
  const picks = () => [...document.querySelectorAll('input.pick:checked')].map((x) => x.value);
  const update = () => {
    const n = picks().length;
    btn.disabled = n === 0;
    btn.textContent = n ? `所选 ${n} 单 PDF` : '所选订单 PDF';
  };
  document.addEventListener('change', (e) => {
    if (e.target.id === 'pick-all') {
      document.querySelectorAll('input.pick').forEach((x) => { x.checked = e.target.checked; });
    }
    if (e.target.id === 'pick-all' || e.target.classList.contains('pick')) update();
  });
  btn.addEventListener('click', () => {
    const ids = picks().slice(0, 100);
    if (ids.length) window.open(`/workbench/orders/print.pdf?ids=${encodeURIComponent(ids.join(','))}`, '_blank', 'noopener');
  });
})();
