"""The GIL is released while the library trains, predicts, evaluates and generates:
another Python thread keeps running meanwhile."""
import threading
import time

import recur


def longest_stall(work):
    """The longest time a busy Python thread could not run while `work` ran in this
    one, and how long `work` took. A call that holds the GIL stalls the other thread
    for about its whole length; one that releases it, for a few milliseconds at most."""
    state = {"measuring": False, "stop": False, "stall": 0.0}

    def spin():
        last = time.perf_counter()
        while not state["stop"]:
            now = time.perf_counter()
            if state["measuring"]:
                state["stall"] = max(state["stall"], now - last)
            last = now

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.02)
    state["measuring"] = True
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    state["stop"] = True
    t.join()
    return state["stall"], seconds


def test_predict_train_and_generate_let_other_threads_run(models, seed_train):
    clf, lm = recur.load(models["lstm"]), recur.load(models["lm"])
    texts = [f"i am {'very ' * (i % 7)}happy not sad" for i in range(160000)]
    for name, work in (("predict_proba", lambda: clf.predict_proba(texts, threads=1)),
                       ("train_classifier", lambda: recur.train_classifier(*seed_train, epochs=2000)),
                       ("generate", lambda: lm.generate(length=1000000))):
        stall, seconds = longest_stall(work)
        print(f"{name}: {seconds:.3f} s, the other thread stood still {stall:.4f} s at most")
        assert seconds > 0.1, f"{name}: too short to tell ({seconds:.3f} s)"
        assert stall < 0.5 * seconds, f"{name}: another thread stood still {stall:.3f} s of {seconds:.3f} s"


def test_the_measure_sees_a_held_gil():
    import random

    big = [random.random() for _ in range(1000000)]
    stall, seconds = longest_stall(lambda: sorted(big))  # list.sort keeps the GIL
    assert stall > 0.5 * seconds
