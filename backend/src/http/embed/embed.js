/*!
 * Troupe embed, a chat button and panel for another site (docs/connect-a-system.md):
 * <script src="https://TROUPE/embed.js" data-token-url="/troupe-token" defer>, optionally
 * with data-lang (en|ko|es|zh|ja), data-position (right|left) and data-label (button text).
 * Hand-written ES2017, no build step; served as UTF-8.
 */
(() => {
  if (window.TroupeEmbed) return; // included twice: keep the first

  const script = document.currentScript || [...document.querySelectorAll('script[src]')]
    .filter((s) => new URL(s.src).pathname.endsWith('/embed.js')).pop();
  const data = script ? script.dataset : {};
  // The system's own endpoint, behind its login (fetch resolves it against the page).
  if (!data.tokenUrl) return console.warn('Troupe embed: no data-token-url');
  const origin = new URL(script.src).origin;
  const side = data.position === 'left' ? 'left' : 'right';

  // [open label, close label, title, error]
  const WORDS = {
    en: ['Open chat', 'Close chat', 'Chat', 'Chat is unavailable right now. Please try again later.'],
    ko: ['채팅 열기', '채팅 닫기', '채팅', '지금은 채팅을 이용할 수 없습니다. 잠시 후 다시 시도해 주세요.'],
    es: ['Abrir el chat', 'Cerrar el chat', 'Chat', 'El chat no está disponible ahora. Inténtalo más tarde.'],
    zh: ['打开聊天', '关闭聊天', '聊天', '聊天暂时无法使用，请稍后再试。'],
    ja: ['チャットを開く', 'チャットを閉じる', 'チャット', '現在チャットを利用できません。しばらくしてからお試しください。'],
  };
  const pick = (l) => l && l.slice(0, 2).toLowerCase();
  const lang = [pick(data.lang), pick(navigator.language), 'en'].find((l) => WORDS[l]);
  const [openText, closeText, title, errorText] = WORDS[lang];

  // Fixed boxes with their own font, so the host page's rules hardly reach them.
  const c = '.troupe-embed-';
  const box = `position:fixed;z-index:2147483000;bottom:88px;${side}:20px;font:15px/1.4 system-ui,sans-serif;`
    + 'border:0;border-radius:12px;box-shadow:0 4px 16px #0004;';
  const css = `${c}btn{${box}bottom:20px;display:flex;align-items:center;gap:8px;min-width:56px;height:56px;padding:0 16px;border-radius:28px;background:#4f46e5;color:#fff;cursor:pointer}
${c}btn[aria-busy=true]{opacity:.6;cursor:progress}
${c}panel{${box}display:flex;flex-direction:column;width:380px;height:600px;max-height:calc(100vh - 100px);background:#fff;overflow:hidden}
${c}head{display:flex;justify-content:space-between;align-items:center;padding:4px 4px 4px 14px;border-bottom:1px solid #ddd}
${c}x{border:0;background:none;font-size:24px;cursor:pointer}
${c}frame{flex:1;width:100%;height:100%;border:0}
${c}err{${box}max-width:260px;padding:10px 12px;background:#fff;color:#b91c1c}
${c}panel[hidden],${c}err[hidden]{display:none}
@media (max-width:640px){${c}panel{inset:0;width:auto;height:auto;max-height:none;border-radius:0}}`;

  const h = (tag, cls, attrs, html) => {
    const e = document.createElement(tag);
    e.className = 'troupe-embed-' + cls;
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    e.innerHTML = html || ''; // this file's own markup only
    return e;
  };
  // A custom label is visible, so it names the button too.
  const button = h('button', 'btn', { type: 'button', 'aria-label': data.label || openText, 'aria-expanded': false },
    '<svg width="24" height="24" aria-hidden="true"><path fill="currentColor" d="M3 4h18v12H9l-6 5z"/></svg>');
  if (data.label) button.append(data.label); // as text: it is the host's
  const panel = h('div', 'panel', { role: 'dialog', 'aria-label': title, hidden: '' },
    `<div class="troupe-embed-head">${title}<button type="button" class="troupe-embed-x" aria-label="${closeText}">×</button></div>`);
  const bubble = h('div', 'err', { role: 'alert', hidden: '' });

  // The frame stays between openings (chat as left); no expires_at: no refresh.
  let frame, expiresAt, busy;

  // Error bubble until the next try; role=alert reads text set on showing.
  const say = (text) => { bubble.textContent = text; bubble.hidden = !text; };

  async function loadFrame() {
    const res = await fetch(data.tokenUrl, { method: 'POST', credentials: 'include', headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error('token endpoint: ' + res.status);
    const { token, url, expires_at } = await res.json();
    const src = new URL(url || '/embed?token=' + encodeURIComponent(token), origin);
    if (!(url || token) || !/^https?:$/.test(src.protocol)) throw new Error('no token');
    src.searchParams.set('lang', lang);
    expiresAt = Date.parse(expires_at) || Infinity;
    if (!frame) panel.append(frame = h('iframe', 'frame', { title, allow: 'clipboard-write' }));
    frame.src = src.href;
  }

  async function open() {
    if (busy || !panel.hidden) return;
    say('');
    // 30 s early: a token about to end would fail on opening.
    if (!frame || Date.now() > expiresAt - 30e3) {
      button.setAttribute('aria-busy', busy = true);
      const ok = await loadFrame().then(() => true, (e) => console.warn('Troupe embed:', e));
      button.setAttribute('aria-busy', busy = false);
      if (!ok) return say(errorText); // the next click tries again
    }
    panel.hidden = false;
    button.setAttribute('aria-expanded', true);
    frame.focus();
  }

  function close(focusButton) {
    panel.hidden = true;
    button.setAttribute('aria-expanded', false);
    if (focusButton) button.focus();
  }

  const toggle = () => (panel.hidden ? open() : close());
  button.onclick = toggle;
  panel.querySelector('button').onclick = () => close(true);
  // Keys typed in the cross-origin frame stay there; the × closes from inside.
  document.addEventListener('keydown', (e) => e.key === 'Escape' && !panel.hidden && close(true));

  const mount = () => {
    document.head.append(h('style', 'css', {}, css));
    document.body.append(button, panel, bubble);
  };
  if (document.body) mount();
  else addEventListener('DOMContentLoaded', mount); // in <head> without defer

  window.TroupeEmbed = { open, close, toggle };
})();
