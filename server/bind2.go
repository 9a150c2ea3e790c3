package server

// The Bind2 request of a SASL2 login (XEP-0386) binds as a bind iq does
// (conn.bind: the revocation check, the conflict with a session of the
// same full JID) and may enable stream management inline, whose
// <enabled/> then goes inside the <bound/> of the <success/>.

// featureBind2 is the Bind2 inline feature of the <authentication/>
// feature, with stream management as the one feature it can enable.
const featureBind2 = "<bind xmlns='" + nsBind2 + "'><inline><feature var='" + nsSM + "'/></inline></bind>"
