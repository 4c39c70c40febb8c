using System.Collections.Concurrent;

namespace Proofsheet.Images;

/// <summary>
/// The only way a job gets a GPU server: one of our jobs per server at a time. AUTOMATIC1111 and ComfyUI
/// render one job at a time anyway (A1111 behind its queue lock, ComfyUI from its queue), so a second job
/// of ours sent to a busy server would only wait there, invisible, while another server sits idle.
/// The default implementation counts within this process; a multi-node deployment registers one that
/// holds the slot cluster-wide (e.g. a PostgreSQL advisory lock keyed by the server's address).
/// </summary>
public interface IServerSlots
{
    /// <summary>Waits until no other job of ours runs on <paramref name="server"/>; disposing the result frees it.</summary>
    ValueTask<IAsyncDisposable> AcquireAsync(Uri server, CancellationToken ct);

    /// <summary>The slot if it is free now, else null: lets a job go to an idle server instead of queueing behind a busy one.</summary>
    ValueTask<IAsyncDisposable?> TryAcquireAsync(Uri server, CancellationToken ct);
}

/// <summary>One slot per server, counted in this process: right for a single node.</summary>
public sealed class InProcessServerSlots : IServerSlots
{
    private readonly ConcurrentDictionary<Uri, SemaphoreSlim> _gates = new();

    public async ValueTask<IAsyncDisposable> AcquireAsync(Uri server, CancellationToken ct)
    {
        var gate = _gates.GetOrAdd(server, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        return new Release(gate);
    }

    public ValueTask<IAsyncDisposable?> TryAcquireAsync(Uri server, CancellationToken ct)
    {
        var gate = _gates.GetOrAdd(server, _ => new SemaphoreSlim(1, 1));
        return ValueTask.FromResult<IAsyncDisposable?>(gate.Wait(0, CancellationToken.None) ? new Release(gate) : null);
    }

    private sealed class Release(SemaphoreSlim gate) : IAsyncDisposable
    {
        private int _done;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                gate.Release();
            }
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>A share of a request: <see cref="Count"/> images starting at <see cref="Offset"/>, as share number <see cref="Index"/>.</summary>
public sealed record PoolShare(int Index, int Count, int Offset);

/// <summary>A share's run on one server, holding that server's slot.</summary>
public sealed class ServerJob(ServerPool pool, Uri server, PoolShare share)
{
    public Uri Server { get; } = server;
    public PoolShare Share { get; } = share;

    /// <summary>Marks that the server is now working on our job (the request was handed over), until disposed.
    /// Only while this holds may a cancel interrupt the server: otherwise it would stop someone else's render.</summary>
    public IDisposable Running() => pool.MarkRunning(Server);

    public bool IsRunning => pool.IsRunning(Server);
}

/// <param name="Attempt">How long one server may take for a share, including the wait for its slot.</param>
/// <param name="Cooldown">How long a server that failed is left out before it is tried again.</param>
public sealed record PoolTimings(TimeSpan Attempt, TimeSpan Cooldown);

/// <summary>What a server did for a share when it failed: the message for the task, and whether the server should sit out.</summary>
public sealed record ServerFailure(string Message, bool ServerAtFault = true);

/// <summary>
/// A pool of servers of one backend (all AUTOMATIC1111 or all ComfyUI): picks the healthy ones, splits a
/// request's images across the least busy, runs each share holding that server's slot, and hands a failing
/// server's share to the next server. Health checks read its view of each server.
/// </summary>
public sealed class ServerPool(string backend, IServerSlots slots, TimeProvider time, ILogger logger)
{
    private sealed class State
    {
        public DateTimeOffset DownUntil;
        /// <summary>Images handed to this server and not finished yet (this node's view, for balancing).</summary>
        public int Pending;
        public int Running;
        public string? LastModel;
        public string? LastFailure;
    }

    private readonly ConcurrentDictionary<Uri, State> _servers = new();
    private readonly Lock _lock = new();

    public string Backend => backend;

    /// <summary>What this node knows of a server, for the health page.</summary>
    public sealed record ServerView(bool Down, DateTimeOffset? DownUntil, bool RunningOurJob, int PendingImages, string? LastModel, string? LastFailure);

    public ServerView View(Uri server)
    {
        var s = StateOf(server);
        lock (_lock)
        {
            var down = s.DownUntil > time.GetUtcNow();
            return new ServerView(down, down ? s.DownUntil : null, s.Running > 0, s.Pending, s.LastModel, s.LastFailure);
        }
    }

    /// <summary>Records the model a finished job actually rendered with (the server's <c>/options</c> is restored after each job, so it cannot tell).</summary>
    public void RecordModel(Uri server, string? model)
    {
        if (!string.IsNullOrWhiteSpace(model))
        {
            lock (_lock)
            {
                StateOf(server).LastModel = model;
            }
        }
    }

    public bool IsRunning(Uri server)
    {
        lock (_lock)
        {
            return StateOf(server).Running > 0;
        }
    }

    internal IDisposable MarkRunning(Uri server)
    {
        lock (_lock)
        {
            StateOf(server).Running++;
        }
        return new Unmark(this, server);
    }

    private sealed class Unmark(ServerPool pool, Uri server) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                lock (pool._lock)
                {
                    pool.StateOf(server).Running--;
                }
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="count"/> images over <paramref name="servers"/>: split as evenly as possible over the
    /// least busy healthy servers (4 on 2 → 2 + 2), shares at once. A share whose server fails in a way
    /// <paramref name="classify"/> recognises goes to the other servers in turn; anything else propagates.
    /// </summary>
    /// <returns>The images of every share that succeeded, in share order, and the failure messages.</returns>
    public async Task<(IReadOnlyList<T> Items, IReadOnlyList<string> Errors)> RunAsync<T>(
        IReadOnlyList<Uri> servers, int count, PoolTimings timings,
        Func<ServerJob, CancellationToken, Task<IReadOnlyList<T>>> run,
        Func<Uri, Exception, ServerFailure?> classify,
        Action<PoolShare>? onRetry,
        CancellationToken ct)
    {
        if (servers.Count == 0)
        {
            throw new ImageGenerationException($"No {backend} server is configured.");
        }
        var now = time.GetUtcNow();
        var healthy = servers.Where(s => StateOf(s).DownUntil <= now).ToList();
        if (healthy.Count == 0)
        {
            // Every server failed recently; trying them again is better than failing without asking.
            healthy = [.. servers];
        }
        List<(Uri Server, PoolShare Share)> plan;
        lock (_lock)
        {
            // Concurrent requests go to the least busy servers first; in list order, every request would
            // queue on the first servers while the others sit idle.
            healthy = [.. healthy.OrderBy(s => StateOf(s).Pending)];
            plan = Split(Math.Max(count, 1), healthy);
            foreach (var (server, share) in plan)
            {
                StateOf(server).Pending += share.Count;
            }
        }
        var outcomes = await Task.WhenAll(plan.Select(p => RunShareAsync(p.Server, p.Share, healthy, timings, run, classify, onRetry, ct)));
        return (outcomes.SelectMany(o => o.Items).ToList(), outcomes.SelectMany(o => o.Errors).ToList());
    }

    internal static List<(Uri, PoolShare)> Split(int count, IReadOnlyList<Uri> servers)
    {
        var used = Math.Min(count, servers.Count);
        var shares = new List<(Uri, PoolShare)>(used);
        var offset = 0;
        for (var i = 0; i < used; i++)
        {
            var n = count / used + (i < count % used ? 1 : 0);
            shares.Add((servers[i], new PoolShare(i, n, offset)));
            offset += n;
        }
        return shares;
    }

    private async Task<(IReadOnlyList<T> Items, List<string> Errors)> RunShareAsync<T>(
        Uri first, PoolShare share, List<Uri> healthy, PoolTimings timings,
        Func<ServerJob, CancellationToken, Task<IReadOnlyList<T>>> run,
        Func<Uri, Exception, ServerFailure?> classify, Action<PoolShare>? onRetry, CancellationToken ct)
    {
        var start = Math.Max(0, healthy.IndexOf(first));
        var order = healthy.Skip(start).Concat(healthy.Take(start)).ToList();
        var errors = new List<string>();
        // The plan counts only this node's jobs; other nodes may keep the planned server busy. Take
        // the first server whose slot is free right now, and queue for the planned one only if none is.
        IAsyncDisposable? ready = null;
        foreach (var candidate in order)
        {
            if ((ready = await slots.TryAcquireAsync(candidate, ct)) is not null)
            {
                order.Remove(candidate);
                order.Insert(0, candidate);
                break;
            }
        }
        try
        {
            foreach (var server in order)
            {
                // The attempt's time includes the wait for the server's slot: a server that is busy for
                // longer than a job may take is as good as down for this request.
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(timings.Attempt);
                try
                {
                    IReadOnlyList<T> items;
                    var slot = ready ?? await slots.AcquireAsync(server, attempt.Token);
                    ready = null;
                    await using (slot)
                    {
                        items = await run(new ServerJob(this, server, share), attempt.Token);
                    }
                    lock (_lock)
                    {
                        StateOf(server).LastFailure = null;
                    }
                    return (items, errors);
                }
                catch (Exception ex) when (!ct.IsCancellationRequested && (ex is OperationCanceledException
                                               ? new ServerFailure($"{ServerList.Display(server)} did not finish within {timings.Attempt.TotalSeconds:0.#} s.")
                                               : classify(server, ex)) is { } failure)
                {
                    logger.LogWarning("{Backend} server {Server} failed a share of {Count}: {Reason}", backend, ServerList.Display(server), share.Count, failure.Message);
                    errors.Add(failure.Message);
                    if (failure.ServerAtFault)
                    {
                        lock (_lock)
                        {
                            var s = StateOf(server);
                            s.DownUntil = time.GetUtcNow() + timings.Cooldown;
                            s.LastFailure = failure.Message;
                        }
                    }
                    onRetry?.Invoke(share);
                }
            }
            return ([], errors);
        }
        finally
        {
            if (ready is not null)
            {
                await ready.DisposeAsync();
            }
            lock (_lock)
            {
                StateOf(first).Pending -= share.Count;
            }
        }
    }

    private State StateOf(Uri server) => _servers.GetOrAdd(server, _ => new State());
}
