using Microsoft.AspNetCore.Diagnostics;

namespace Proofsheet.Images;

/// <summary>A request that needs the preview store while it does not answer gets a 503 to retry, not a 500.</summary>
internal sealed class PreviewStoreUnavailableHandler(IProblemDetailsService problems, ILogger<PreviewStoreUnavailableHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not PreviewStoreException)
        {
            return false;
        }
        logger.LogWarning("The preview store is unavailable: {Reason}", exception.Message);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "5";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Service unavailable",
                Detail = "The store that keeps the candidate images is not reachable right now. Try again shortly.",
            },
        });
    }
}
