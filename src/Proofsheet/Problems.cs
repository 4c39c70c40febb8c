using Microsoft.AspNetCore.Http.HttpResults;
using Proofsheet.Tasks;

namespace Proofsheet;

/// <summary>Problem-details helpers, so every 4xx carries a useful <c>detail</c>.</summary>
public static class Problems
{
    public static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, detail: message);

    public static ValidationProblem Invalid(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, detail: string.Join(" ", errors.SelectMany(e => e.Value)));

    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: detail);

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail);

    /// <summary>A non-OK outcome as its problem response.</summary>
    public static IResult From(Outcome outcome) => outcome.Kind switch
    {
        OutcomeKind.NotFound => NotFound(outcome.Detail!),
        OutcomeKind.Conflict => Conflict(outcome.Detail!),
        OutcomeKind.Invalid => Invalid(outcome.Field ?? "request", outcome.Detail!),
        _ => throw new ArgumentOutOfRangeException(nameof(outcome)),
    };

    /// <summary>
    /// A dependency (the database, the preview store) is away for a while: 503 with Retry-After and
    /// a problem body, so clients retry instead of taking it for a server bug.
    /// </summary>
    public static ValueTask<bool> WriteUnavailableAsync(HttpContext context, IProblemDetailsService problems, int retryAfterSeconds, string detail)
    {
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = StatusCodes.Status503ServiceUnavailable, Title = "Service unavailable", Detail = detail },
        });
    }
}

/// <summary>Collects field errors for one request.</summary>
public sealed class Checks
{
    private readonly Dictionary<string, string[]> _errors = [];

    public bool Ok => _errors.Count == 0;

    public Checks Text(string field, string? value, int min, int max, bool required = false)
    {
        if (value is null)
        {
            if (required)
            {
                _errors[field] = [$"{field} is required."];
            }
        }
        else if (value.Trim().Length < min || value.Length > max)
        {
            _errors[field] = [min > 0
                ? $"{field} must be {min} to {max} characters long."
                : $"{field} must be at most {max} characters long."];
        }
        else if (value.Contains('\0', StringComparison.Ordinal))
        {
            _errors[field] = [$"{field} must not contain NUL characters."];
        }
        return this;
    }

    public Checks Range(string field, long? value, long min, long max)
    {
        if (value is not null && (value < min || value > max))
        {
            _errors[field] = [$"{field} must be between {min} and {max}."];
        }
        return this;
    }

    public Checks Id(string field, string? value)
    {
        if (value is not null && !Ids.IsValid(value))
        {
            _errors[field] = [$"{field} is not a valid id."];
        }
        return this;
    }

    public Checks Rule(bool ok, string field, string message)
    {
        if (!ok)
        {
            _errors[field] = [message];
        }
        return this;
    }

    public ValidationProblem Problem() => Problems.Invalid(_errors);
}
