using System.ComponentModel.DataAnnotations;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.RateLimiting;

namespace Proofsheet;

/// <summary>The generation rate limit: each API key may start this many generations per window.</summary>
public sealed class GenerationRateLimitOptions
{
    public const string Section = "RateLimits:Generation";
    [Range(1, 1_000_000)] public int PermitLimit { get; set; } = 60;
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// Defences every response shares: security headers, the rate limit on endpoints that spend
/// backend money or GPU time, and a 503 (not a 500) while the database is unreachable.
/// </summary>
public static class Security
{
    public const string GenerationPolicy = "generation";

    /// <summary>Pages load scripts and styles from this origin only (vendored under wwwroot/lib);
    /// images may come from the CDN. No framing, no plugins, forms post here only.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    public static WebApplicationBuilder AddSecurity(this WebApplicationBuilder builder)
    {
        builder.Services.AddSection<GenerationRateLimitOptions>(GenerationRateLimitOptions.Section);
        builder.Services.AddRateLimiter(o =>
        {
            o.AddPolicy(GenerationPolicy, context =>
            {
                var opts = context.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<GenerationRateLimitOptions>>().CurrentValue;
                var counters = context.RequestServices.GetRequiredService<Cluster.RateCounters>();
                // Counted in the database: every node sees the same count for a key.
                return RateLimitPartition.Get(PartitionOf(context), key =>
                    new Cluster.SharedWindowLimiter(counters, "generation:" + key, opts.PermitLimit, opts.Window));
            });
            o.OnRejected = async (context, ct) =>
            {
                var response = context.HttpContext.Response;
                response.StatusCode = StatusCodes.Status429TooManyRequests;
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context.HttpContext,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        Title = "Too many requests",
                        Detail = $"Too many generation requests for this API key; try again in {seconds} s.",
                    },
                });
            };
        });
        builder.Services.AddExceptionHandler<DatabaseUnavailableHandler>();
        return builder;
    }

    public static WebApplication UseSecurity(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                // Candidate files carry a stricter, sandboxing policy of their own: keep it.
                if (!headers.ContainsKey("Content-Security-Policy"))
                {
                    headers.ContentSecurityPolicy = ContentSecurityPolicy;
                }
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                return Task.CompletedTask;
            });
            return next(context);
        });
        return app;
    }

    /// <summary>
    /// After the exception handler: the generation limit counts in the database, and a database
    /// outage while counting must answer 503 like any other, not escape the pipeline.
    /// </summary>
    public static WebApplication UseGenerationLimit(this WebApplication app)
    {
        app.UseRateLimiter();
        return app;
    }

    /// <summary>Per API key (hashed, so no key sits in memory as a dictionary key), else per client address.</summary>
    private static string PartitionOf(HttpContext context)
    {
        var key = context.Request.Headers.Authorization.ToString();
        if (key.Length == 0)
        {
            key = context.Request.Headers["X-Api-Key"].ToString();
        }
        return key.Length > 0
            ? "key:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16]
            : "ip:" + context.Connection.RemoteIpAddress;
    }

    /// <summary>
    /// A database that is restarting or unreachable is a temporary condition, not a server bug:
    /// answer 503 with Retry-After so clients retry, instead of a 500.
    /// </summary>
    private sealed class DatabaseUnavailableHandler(IProblemDetailsService problems, ILogger<DatabaseUnavailableHandler> logger) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            var outage = OutageIn(exception);
            if (outage is null)
            {
                return false;
            }
            // The database's own error and its cause apart: "pool exhausted" and "server closed the
            // connection" both end in a bare timeout or socket message, and only the outer one says which.
            logger.LogWarning("The database is unavailable to {Method} {Path}: {Error} {SqlState}: {Reason} (cause: {Cause})",
                context.Request.Method, context.Request.Path.Value, outage.GetType().Name, outage.SqlState, outage.Message, exception.GetBaseException().Message);
            return await Problems.WriteUnavailableAsync(context, problems, 2,
                "The database is not reachable right now; nothing was changed. Try again shortly.");
        }

        /// <summary>The database exception that makes this an outage, or null when it is not one.</summary>
        internal static DbException? OutageIn(Exception exception)
        {
            for (Exception? e = exception; e is not null; e = e.InnerException)
            {
                // Only database exceptions: a refused socket or a timeout of an image backend is not a database outage.
                if (e is DbException { IsTransient: true } transient)
                {
                    return transient;
                }
                if (e is DbException db && db.GetType().Name == "PostgresException" && db.SqlState is "57P01" or "57P02" or "57P03" or "53300")
                {
                    return db;
                }
            }
            return null;
        }
    }
}
