from hypothesis import given, settings, strategies as st
from tests.geo.test_topn import worlds, top_n, brute_force_top_n, Weights
stats = []
@settings(max_examples=200, deadline=None)
@given(worlds(), st.integers(1, 30))
def test_probe(wr, n):
    world, radius = wr
    r = top_n(world.lat, world.lng, world.source, weights=Weights(), radius_km=radius, n=n, resolution=world.resolution)
    stats.append((len(world.facts), r.eligible, r.seen, len(r.candidates), r.rings))
def test_report():
    import statistics
    print("\nexamples", len(stats), "mean providers", statistics.mean(s[0] for s in stats),
          "mean eligible", statistics.mean(s[1] for s in stats),
          "early stop (seen<all)", sum(s[2] < s[0] for s in stats),
          "full top n", sum(s[3] == n for s, n in zip(stats, [0]*len(stats))),
          "max rings", max(s[4] for s in stats), "zero providers", sum(s[0]==0 for s in stats))
