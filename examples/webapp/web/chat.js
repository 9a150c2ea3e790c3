// Starts Converse.js for the signed-in user: it logs in to xtokend over WebSocket with SASL
// X-TOKEN, using a token the application mints on every connect.

const config = JSON.parse(document.getElementById('xtokend-config').textContent);
const { Strophe } = converse.env;

// X-TOKEN's initial response has PLAIN's layout (authzid NUL username NUL token): PLAIN under
// another name. Priority 90 puts it above Strophe's own mechanisms, which xtokend does not offer.
class XToken extends Strophe.SASLPlain {
    constructor() {
        super('X-TOKEN', true, 90);
    }
}

// Converse 14 waits for a XEP-0191 blocklist before it shows a chat with anyone outside the
// roster, and makes one only when the server announces blocking. xtokend has no blocking and no
// roster: when the server does not announce it, this says the blocklist is empty.
converse.plugins.add('xtokend-no-blocking', {
    dependencies: ['converse-disco', 'converse-blocklist'],
    initialize() {
        const { _converse } = this;
        const { api } = _converse;
        api.listen.on('discoInitialized', async () => {
            const domain = _converse.session.get('domain');
            if (!(await api.disco.supports(Strophe.NS.BLOCKING, domain))) {
                api.trigger('blocklistInitialized', new Map());
            }
        });
    },
});

// The fullscreen view's footer shows sponsors' logos from Converse's web site: a page of this
// application loads nothing from elsewhere. Converse leaves an element already defined alone.
customElements.define('converse-footer', class extends HTMLElement {});

converse.initialize({
    authentication: 'login',
    auto_login: true,
    // A fresh token on every connect and reconnect: a token is good once, for about a minute.
    credentials_url: config.credentials_url,
    websocket_url: config.websocket_url,
    // host-meta discovery accepts only wss: links; the URL above is the one to use.
    discover_connection_methods: false,
    connection_options: { mechanisms: [XToken] },
    whitelisted_plugins: ['xtokend-no-blocking'],
    // OMEMO needs PEP and device lists xtokend does not keep.
    blacklisted_plugins: ['converse-omemo', 'converse-omemo-views'],
    allow_non_roster_messaging: true,
    // Signing out is the application's job (the button above): it ends the token supply too.
    allow_logout: false,
    view_mode: 'fullscreen',
    i18n: 'en',
    play_sounds: false,
    show_client_info: false,
    loglevel: new URLSearchParams(location.search).has('debug') ? 'debug' : 'info',
});
