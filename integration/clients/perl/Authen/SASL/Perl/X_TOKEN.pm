# X-TOKEN for Authen::SASL::Perl, so that Perl XMPP clients (sendxmpp, Net::XMPP) can log in to
# xtokend. Put the folder holding Authen/ on PERL5LIB. The password is the token.
#
# The initial response has PLAIN's layout: authzid NUL authcid NUL token. Net::XMPP passes the bare
# JID as authname, which xtokend accepts as the authzid (it must equal the bare JID being logged in).
package Authen::SASL::Perl::X_TOKEN;

use strict;
use warnings;
use parent qw(Authen::SASL::Perl);

sub _order    { 1 }
sub _secflags { () }

sub mechanism { 'X-TOKEN' }

sub client_start {
    my $self = shift;
    my @fields = map { my $v = $self->_call($_); defined $v ? $v : '' } qw(authname user pass);
    return join("\0", @fields);
}

1;
