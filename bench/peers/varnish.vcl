vcl 4.1;
# Varnish as a caching reverse proxy in front of the bench origin (bench/edge-hit.sh).
# Rendered by bench/edge-lib.sh: @ORIGIN_PORT@ origin port.
# Tuning, set on the varnishd command line (bench/edge-lib.sh start_peer), and why:
#   -s malloc,1G              objects in RAM, as the other peers serve hits from RAM (page cache)
#   -p thread_pools=N         one pool per CPU the configuration may use (N = its worker count)
#   -p thread_pool_min        Varnish serves each connection on a thread: wrk's connections get
#                             threads started before the run instead of during it
#   -p timeout_idle=65        keep-alive as long as nginx's keepalive_timeout
# The built-in VCL (request collapsing on the waiting list, TTL from Cache-Control) is kept; only
# vcl_deliver is added, to mark hits for the warm check.

backend origin {
    .host = "127.0.0.1";
    .port = "@ORIGIN_PORT@";
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
