// Staff pages: who is logged in, the CSRF token on every same-origin change, and a trip to
// the login page when the session is missing. Include with data-require-login on private pages.
(function () {
  const script = document.currentScript;
  const needLogin = script && script.hasAttribute('data-require-login');
  const toLogin = () => { location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search); };
  const origFetch = window.fetch.bind(window);
  let csrf = null;
  const ready = origFetch('/api/auth/me', { credentials: 'same-origin' })
    .then((r) => r.json())
    .then((me) => {
      csrf = me.csrf || null;
      window.yunlianUser = me;
      if (needLogin && !me.role) toLogin();
      const header = document.querySelector('header');
      if (header && me.role) {
        const span = document.createElement('span');
        span.className = 'whoami';
        span.textContent = `${me.username}（${{ admin: '管理员', operator: '农户', cs: '客服', ops: '运维' }[me.role] || me.role}）`;
        const out = document.createElement('a');
        out.href = '#'; out.textContent = '退出';
        out.onclick = async (e) => { e.preventDefault(); await window.fetch('/api/auth/logout', { method: 'POST' }); toLogin(); };
        header.append(span, out);
      }
      return me;
    })
    .catch(() => ({}));
  window.yunlianReady = ready;
  window.fetch = async (input, init) => {
    init = init || {};
    const method = (init.method || (input && input.method) || 'GET').toUpperCase();
    const url = new URL(typeof input === 'string' ? input : input.url, location.href);
    if (url.origin === location.origin && method !== 'GET' && method !== 'HEAD') {
      await ready;
      const headers = new Headers(init.headers || {});
      if (csrf) headers.set('X-CSRF-Token', csrf);
      init = { ...init, headers };
    }
    const res = await origFetch(input, init);
    if (needLogin && res.status === 401) toLogin();
    return res;
  };
})();
