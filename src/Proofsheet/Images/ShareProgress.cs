namespace Proofsheet.Images;

/// <summary>Combines the progress of shares running on different servers into progress on the whole request.</summary>
internal sealed class ShareProgress(IProgress<GenerationProgress>? progress, int total)
{
    private readonly Dictionary<int, (int Count, double Fraction)> _shares = [];
    private readonly Lock _lock = new();

    public bool Enabled => progress is not null;

    public void Update(PoolShare share, double fraction, string? step) => Set(share, Math.Clamp(fraction, 0, 0.999), step);

    public void Finish(PoolShare share, string step = "batch finished") => Set(share, 1, step);

    public void Reset(PoolShare share, string step = "retrying on another server") => Set(share, 0, step);

    public void Say(PoolShare share, string step)
    {
        lock (_lock)
        {
            Set(share, _shares.TryGetValue(share.Index, out var s) ? s.Fraction : 0, step);
        }
    }

    /// <summary>Passes on a server's live preview of the image it is denoising, at the share's current progress.</summary>
    public void Preview(PoolShare share, LivePreview preview)
    {
        if (progress is null)
        {
            return;
        }
        lock (_lock)
        {
            var done = _shares.Values.Sum(s => s.Fraction >= 1 ? s.Count : (int)Math.Floor(s.Fraction * s.Count));
            progress.Report(new GenerationProgress(Math.Min(done, total), total, "live preview") { Preview = preview });
        }
    }

    private void Set(PoolShare share, double fraction, string? step)
    {
        if (progress is null)
        {
            return;
        }
        lock (_lock)
        {
            _shares[share.Index] = (share.Count, fraction);
            // A server samples a batch together: its fraction is shown as that share of the batch's images.
            var done = _shares.Values.Sum(s => s.Fraction >= 1 ? s.Count : (int)Math.Floor(s.Fraction * s.Count));
            progress.Report(new GenerationProgress(Math.Min(done, total), total, step));
        }
    }
}
