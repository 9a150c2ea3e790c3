// SASL X-TOKEN for xmpp.js: PLAIN's layout (authzid NUL username NUL token) in one client-first
// step. The credential is named xtoken: xmpp.js keeps its own FAST tokens under "token".
// Register it with xmpp.saslFactory.use(XToken).
export function XToken() {}
XToken.prototype.name = "X-TOKEN";
XToken.prototype.clientFirst = true;
XToken.prototype.response = function (cred) {
  return [cred.authzid || "", cred.username, cred.xtoken].join("\0");
};
XToken.prototype.challenge = function () {
  return this;
};
