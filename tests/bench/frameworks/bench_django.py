"""Django workloads (tests/bench, modes "django-asgi" and "django-wsgi"): a user as a JsonResponse, in a
one-file project (settings configured here, CommonMiddleware, no database, no apps).

django-asgi requests GET /async/users/<id> from `asgi_app`: an `async def` view (under ASGI a sync view
would add asgiref's thread hop per request). django-wsgi requests GET /users/<id> from `wsgi_app`: the
same view as a plain function."""
import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def _user(user_id):
    return JsonResponse({"id": user_id, "name": "user", "active": True})


async def user_async(request, user_id):
    return _user(user_id)


def user_sync(request, user_id):
    return _user(user_id)


def ready(request):  # the harness's readiness check (GET / answered 200)
    return HttpResponse("ok")


urlpatterns = [path("users/<int:user_id>", user_sync), path("async/users/<int:user_id>", user_async),
               path("", ready)]

asgi_app = get_asgi_application()
wsgi_app = get_wsgi_application()
