"""What both sandboxes share, and nothing of the product's: an ASGI app served in a thread, and the
base64 HMAC-SHA256 body signature both APIs sign their webhooks with. The sandboxes are the other side
of the wire, so they keep their own copy rather than import the client's (a bug shared by both sides of
a contract would hide itself)."""
