using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Proofsheet.Publishing;

/// <summary>The CDN store in use can take an upload: S3's HeadBucket, Cloudinary's ping. The local folder is checked with the app's own folders.</summary>
public sealed class PublishingHealthCheck(ActiveStore active) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problem = active.Store switch
        {
            S3Store s3 => await s3.FindProblemAsync(cancellationToken),
            CloudinaryStore cloudinary => await cloudinary.FindProblemAsync(cancellationToken),
            _ => null,
        };
        return problem is null
            ? HealthCheckResult.Healthy($"The {active.Store.Name} store answers with the configured keys.")
            : HealthCheckResult.Unhealthy(problem);
    }
}
